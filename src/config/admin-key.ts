import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ADMIN_KEY_FILE = 'admin-api-key';

/**
 * The embedded default needs no setup: without ADMIN_API_KEY, a key is generated once into a
 * 0600 file under DATA_DIR and reused on every start. Only the file's path is ever logged.
 */
export function ensureAdminKeyFile(dataDir: string): { key: string; file: string; created: boolean } {
  const file = path.join(dataDir, ADMIN_KEY_FILE);
  fs.mkdirSync(dataDir, { recursive: true });
  if (fs.existsSync(file)) {
    return { key: fs.readFileSync(file, 'utf8').trim(), file, created: false };
  }
  const key = `sradm_${randomBytes(32).toString('base64url')}`;
  fs.writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return { key, file, created: true };
}
