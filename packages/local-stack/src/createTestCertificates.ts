import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Options for {@link createTestCertificates}. */
export interface CreateTestCertificatesOptions {
  /** Folder the files are written to (a fresh temporary folder, usually). */
  dir: string;
  /** Names the broker certificate is valid for (default `127.0.0.1` and `localhost`). */
  hosts?: string[];
  /** Validity in days (default 2: long enough for a test run, useless afterwards). */
  days?: number;
}

/** The files {@link createTestCertificates} wrote. */
export interface TestCertificates {
  /** The test CA's certificate (PEM): what clients trust (`KAFKA_TLS_CA_FILE`). */
  caFile: string;
  /** The broker's unencrypted PKCS#8 key, its certificate and the CA's, in one PEM file (Kafka's PEM key store). */
  keyStorePemFile: string;
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (error, _stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(
          new Error(
            'openssl is required to make test certificates: install it (for example `apt-get install openssl`)',
          ),
        );
      } else if (error) {
        reject(new Error(`\`openssl ${args.join(' ')}\` failed: ${error.message}\n${stderr}`));
      } else resolve();
    });
  });
}

/**
 * A throwaway certificate authority and a broker certificate it signed, made with `openssl`
 * (EC P-256, fast) for tests of TLS listeners. Nothing is ever reused across runs.
 */
export async function createTestCertificates(options: CreateTestCertificatesOptions): Promise<TestCertificates> {
  const { dir } = options;
  const days = String(options.days ?? 2);
  const hosts = options.hosts ?? ['127.0.0.1', 'localhost'];
  const san = hosts.map((host) => (/^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
  fs.mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      days,
      '-subj',
      '/CN=outbox test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'broker.key',
      '-out',
      'broker.pem',
      '-days',
      days,
      '-subj',
      `/CN=${hosts[0]}`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-addext',
      `subjectAltName=${san}`,
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'extendedKeyUsage=serverAuth',
    ],
    dir,
  );
  const keyStorePemFile = path.join(dir, 'broker-keystore.pem');
  const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
  fs.writeFileSync(keyStorePemFile, `${read('broker.key')}${read('broker.pem')}${read('ca.pem')}`, { mode: 0o600 });
  return { caFile: path.join(dir, 'ca.pem'), keyStorePemFile };
}
