// rest returns a function that calls Roster's REST API with a client-credentials token, for
// what the Scalekit SDK does not wrap (attribute definitions, a connection's settings).
export function rest(url, clientId, clientSecret) {
  let token;
  return async function api(method, path, body) {
    if (!token) {
      const r = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
      });
      token = (await r.json()).access_token;
    }
    const r = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : {} };
  };
}
