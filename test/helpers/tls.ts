/**
 * Certificates for TLS tests, made with openssl at test time: a CA, and a member certificate it
 * signs for 127.0.0.1 (an IP SAN, so no SNI name is needed). Nothing is committed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestPki {
  ca: string;
  cert: string;
  key: string;
}

/** Whether openssl can be run here; tests that need it say why when it cannot. */
export function opensslMissing(): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'openssl is not installed (apt-get install openssl)';
  }
}

/** A fresh CA and a certificate for 127.0.0.1 signed by it. */
export function makePki(name = 'proxy-balancer test'): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-pki-'));
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  try {
    // EC keys: RSA key generation would cost a second or more per test file.
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name} CA`);
    run('req', ...ec, '-keyout', 'member.key', '-out', 'member.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
    run('x509', '-req', '-in', 'member.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'member.pem', '-days', '2', '-extfile', 'ext.cnf');
    const read = (file: string): string => readFileSync(path.join(dir, file), 'utf8');
    return { ca: read('ca.pem'), cert: read('member.pem'), key: read('member.key') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
