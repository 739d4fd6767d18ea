import * as fs from 'node:fs';
import * as path from 'node:path';

/** The service version from package.json (one directory above src/ or dist/). */
export const SERVICE_VERSION: string = (() => {
  try {
    const raw = fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8');
    return (JSON.parse(raw) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
