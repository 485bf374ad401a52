/**
 * Attack: request smuggling through a request body. A body that is itself an HTTP request must
 * reach the member framed (chunked, or with its exact length) on every method, on first attempts
 * and on replays, so the member never parses it as a second request and no client ever gets
 * another client's response. Spoken with a raw socket, as an attacker would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/index.js';
import { firstStatus, rawExchange, startEchoMember, type EchoMember, type Seen } from '../helpers/raw.js';
import { closedPort, request, startFront } from '../helpers/servers.js';
import { currentEngine, forEachEngine } from '../helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** The request an attacker hides in the body: another Host, a path outside the app's routing. */
const SMUGGLED = 'GET /admin HTTP/1.1\r\nHost: evil.example\r\n\r\n';

function chunkedAttack(method: string, body = SMUGGLED): string {
  const size = Buffer.byteLength(body).toString(16);
  return `${method} /public HTTP/1.1\r\nHost: site.example\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${size}\r\n${body}\r\n0\r\n\r\n`;
}

async function frontOver(memberUrls: string[], extra: Record<string, unknown> = {}): Promise<{ port: number; url: string }> {
  const balancer = createBalancer({ engine: currentEngine(), members: memberUrls.map((url) => ({ url })), ...extra });
  const front = await startFront(balancer);
  cleanups.push(async () => {
    await front.close();
    await balancer.close();
  });
  return { port: Number(new URL(front.url).port), url: front.url };
}

async function echo(): Promise<EchoMember> {
  const member = await startEchoMember();
  cleanups.push(() => member.close());
  return member;
}

/**
 * The body went framed: chunked, or with a Content-Length that is its exact length (an engine may
 * send a body it already holds whole with its length), never both.
 */
function expectFramed(seen: Seen): void {
  const { 'transfer-encoding': te, 'content-length': length } = seen.headers;
  if (te !== undefined) {
    expect(te).toBe('chunked');
    expect(length).toBeUndefined();
  } else {
    expect(length).toBe(String(Buffer.byteLength(seen.body, 'latin1')));
  }
}

const METHODS = ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'POST', 'PUT', 'PATCH'];

forEachEngine(() => {
  describe('a chunked body holding a request is forwarded framed, whole, as one request', () => {
    it.each(METHODS)('%s', async (method) => {
      const member = await echo();
      const front = await frontOver([member.url]);
      const answer = await rawExchange(front.port, chunkedAttack(method));
      expect(firstStatus(answer)).toBe(200);
      // The member parsed exactly one request: the attacker's own, with the hidden one as its body.
      expect(member.seen.map((s) => `${s.method} ${s.url}`)).toEqual([`${method} /public`]);
      expect(member.seen[0]!.body).toBe(SMUGGLED);
      expectFramed(member.seen[0]!);

      // The next client on the same keep-alive member connection gets its own answer.
      const victim = await request(`${front.url}/victim`);
      expect(JSON.parse(victim.body).url).toBe('/victim');
      expect(member.seen.map((s) => s.url)).toEqual(['/public', '/victim']);
    });
  });

  describe('bodies keep their framing', () => {
    it('a Content-Length body on GET goes with its exact length', async () => {
      const member = await echo();
      const front = await frontOver([member.url]);
      const body = SMUGGLED;
      const answer = await rawExchange(front.port, `GET /public HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      expect(firstStatus(answer)).toBe(200);
      expect(member.seen.map((s) => s.url)).toEqual(['/public']);
      expect(member.seen[0]!.headers['content-length']).toBe(String(body.length));
      expect(member.seen[0]!.body).toBe(body);
      expect(JSON.parse((await request(`${front.url}/victim`)).body).url).toBe('/victim');
    });

    it.each(['DELETE', 'OPTIONS', 'GET'])('a chunked %s replayed to a second member after a refused connection is framed there too', async (method) => {
      const member = await echo();
      const dead = `http://127.0.0.1:${await closedPort()}`;
      const front = await frontOver([dead, member.url]); // byrequests tries the first member first
      const answer = await rawExchange(front.port, chunkedAttack(method));
      expect(firstStatus(answer)).toBe(200);
      expect(member.seen.map((s) => `${s.method} ${s.url}`)).toEqual([`${method} /public`]);
      expect(member.seen[0]!.body).toBe(SMUGGLED);
      expectFramed(member.seen[0]!);
      expect(JSON.parse((await request(`${front.url}/victim`)).body).url).toBe('/victim');
    });

    it('a chunked body larger than the replay buffer still goes framed', async () => {
      const member = await echo();
      const front = await frontOver([member.url], { retry: { maxBodyBytes: 16 } });
      const answer = await rawExchange(front.port, chunkedAttack('DELETE', SMUGGLED.repeat(4)));
      expect(firstStatus(answer)).toBe(200);
      expect(member.seen.map((s) => s.url)).toEqual(['/public']);
      expect(member.seen[0]!.body).toBe(SMUGGLED.repeat(4));
      expectFramed(member.seen[0]!);
      expect(JSON.parse((await request(`${front.url}/victim`)).body).url).toBe('/victim');
    });
  });
});
