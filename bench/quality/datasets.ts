import { join, resolve } from 'node:path';

/** the shared BEIR data sets sit beside the repository (`../shared/data`); DATA_SETS_DIR overrides */
export function datasetDir(name: string): string {
  const root = process.env.DATA_SETS_DIR ?? resolve(__dirname, '..', '..', '..', 'shared', 'data');
  return join(root, name);
}
