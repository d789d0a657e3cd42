// A webhook receiver that verifies each delivery with the official Scalekit Node SDK
// (ScalekitClient.verifyWebhookPayload), as an application would, and records the outcome
// per webhook-id. It also checks that the SDK refuses a tampered copy of each delivery (body
// changed, and signed for another id). e2e/webhooks_test.go starts it and reads GET /results.
//
// Environment: PORT (to listen on, 127.0.0.1), WEBHOOK_SECRET (whsec_...).
import http from 'node:http';
import { ScalekitClient } from '@scalekit-sdk/node';

const secret = process.env.WEBHOOK_SECRET;
const port = Number(process.env.PORT);
// verifyWebhookPayload makes no network call: the client's URL and credentials are unused.
const scalekit = new ScalekitClient('http://127.0.0.1:9', 'unused', 'unused');

function verifies(headers, body) {
  try {
    return scalekit.verifyWebhookPayload(secret, headers, body) === true;
  } catch {
    return false;
  }
}

const results = [];

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/results') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(results));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const ok = verifies(req.headers, body);
    let type = '';
    try {
      type = JSON.parse(body).type;
    } catch {}
    const tamperedBody = body.replace(/"type":"/, '"type":"x');
    const otherID = { ...req.headers, 'webhook-id': req.headers['webhook-id'] + 'x' };
    results.push({
      id: req.headers['webhook-id'],
      type,
      ok,
      tamperedRefused: tamperedBody !== body && !verifies(req.headers, tamperedBody) && !verifies(otherID, body),
      contentType: req.headers['content-type'],
      rawHeaderNames: req.rawHeaders.filter((_, i) => i % 2 === 0).filter((h) => h.toLowerCase().startsWith('webhook-')),
    });
    res.writeHead(ok ? 200 : 400);
    res.end();
  });
});

server.listen(port, '127.0.0.1', () => console.log('ready'));
