import * as fs from 'node:fs';

/** The nice value of a thread, from its /proc stat line (field 19). */
export function threadNice(statPath: string): number {
  const stat = fs.readFileSync(statPath, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}
