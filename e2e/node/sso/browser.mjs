// A browser without a browser, for the SSO end-to-end tests: it follows redirects with a
// cookie jar per host and submits the auto-posting forms that SAML identity providers answer
// with (HTTP-POST binding), until a step points at the application's redirect URI, which it
// returns without fetching.
const entities = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#x27;': "'", '&#x2F;': '/', '&#43;': '+', '&#61;': '=' };
const unescape = (s) => s.replace(/&(amp|lt|gt|quot|#39|#x27|#x2F|#43|#61);/g, (e) => entities[e] ?? e);

function autoPostForm(html) {
  const form = /<form[^>]*method=["']?post["']?[^>]*>/i.exec(html) || /<form[^>]*>/i.exec(html);
  if (!form) return null;
  const action = /action=["']([^"']+)["']/i.exec(form[0]);
  if (!action) return null;
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input[^>]*>/gi)) {
    const name = /name=["']([^"']+)["']/i.exec(m[0]);
    const value = /value=["']([^"']*)["']/i.exec(m[0]);
    if (name) fields.append(unescape(name[1]), value ? unescape(value[1]) : '');
  }
  return { action: unescape(action[1]), fields };
}

export async function follow(start, redirectUri) {
  const jar = new Map(); // host -> Map(name -> value)
  let next = start;
  let body;
  for (let hops = 0; hops < 25; hops++) {
    if (next.startsWith(redirectUri)) return new URL(next);
    const u = new URL(next);
    const cookies = jar.get(u.host) || new Map();
    const headers = cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await fetch(next, { method: body ? 'POST' : 'GET', body, redirect: 'manual', headers });
    body = undefined;
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    jar.set(u.host, cookies);
    const loc = r.headers.get('location');
    if (loc) {
      next = new URL(loc, next).toString();
      continue;
    }
    const html = await r.text();
    const form = r.status === 200 ? autoPostForm(html) : null;
    if (!form) throw new Error(`${next} answered ${r.status} without a redirect or a form: ${html.slice(0, 400)}`);
    next = new URL(form.action, next).toString();
    body = form.fields.toString();
  }
  throw new Error('too many redirects');
}
