/**
 * Certificate rotation without a restart: cert-manager (and most secret mounts) replace the
 * certificate and key files in place or by swapping a symlink. The files are polled (stat
 * follows the symlink, so both kinds of swap are seen), the new pair is checked to belong
 * together, and only then does the listening server switch; a bad pair keeps the old one.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { createSecureContext, type Server as TlsServer } from 'node:tls';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsReloadLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TlsWatcher {
  /** Reads both files and switches if they form a valid pair; false (and a warning) if not. */
  reload(): Promise<boolean>;
  stop(): void;
}

/** The SHA-256 fingerprint of a PEM certificate's leaf: what the log names, never the key. */
export function certificateFingerprint(certPem: Buffer | string): string {
  try {
    return new X509Certificate(certPem).fingerprint256;
  } catch {
    return createHash('sha256').update(certPem).digest('hex');
  }
}

export function watchTlsFiles(
  server: Pick<TlsServer, 'setSecureContext'>,
  files: TlsFiles,
  read: (file: string, what: 'certFile' | 'keyFile') => Promise<Buffer>,
  log: TlsReloadLog,
  options: { intervalMs?: number } = {},
): TlsWatcher {
  let pending: Promise<boolean> | undefined;
  let again = false;

  const load = async (): Promise<boolean> => {
    try {
      const [cert, key] = await Promise.all([read(files.certFile, 'certFile'), read(files.keyFile, 'keyFile')]);
      // Throws on a key that does not match the certificate, or on either being unparsable.
      createSecureContext({ cert, key });
      server.setSecureContext({ cert, key });
      log.info(
        { certFile: files.certFile, fingerprint: certificateFingerprint(cert) },
        'server: TLS certificate reloaded',
      );
      return true;
    } catch (err) {
      // The message of a key parsing error never holds key material; the code says what failed.
      const e = err as NodeJS.ErrnoException;
      log.warn(
        { certFile: files.certFile, keyFile: files.keyFile, error: e.code ?? e.message },
        'server: new TLS files are not a usable certificate and key; keeping the current ones',
      );
      return false;
    }
  };

  // Rotation writes two files one after the other: coalesce the changes into one reload, and
  // reload once more if a change arrived while one ran (the pair may only now be complete).
  const reload = (): Promise<boolean> => {
    if (pending) {
      again = true;
      return pending;
    }
    pending = load().finally(() => {
      pending = undefined;
      if (again) {
        again = false;
        void reload();
      }
    });
    return pending;
  };

  const interval = options.intervalMs ?? 2_000;
  const onChange = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) void reload();
  };
  watchFile(files.certFile, { interval, persistent: false }, onChange);
  watchFile(files.keyFile, { interval, persistent: false }, onChange);
  return {
    reload,
    stop: () => {
      unwatchFile(files.certFile, onChange);
      unwatchFile(files.keyFile, onChange);
    },
  };
}
