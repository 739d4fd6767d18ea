/**
 * Budgets on the shape of parsed JSON, checked by one iterative walk before anything recursive
 * (class-validator, class-transformer, structured clone between threads) touches the value.
 */
export interface JsonShapeLimits {
  /** nesting levels; a scalar at the top is level 1 */
  maxDepth: number;
  /** keys of any one object */
  maxObjectKeys: number;
  /** items of any one array */
  maxArrayItems: number;
  /** keys and items of the whole value */
  maxEntries: number;
  /** key names refused at any level */
  refusedKeys?: ReadonlySet<string>;
}

export type JsonShapeViolation =
  | { kind: 'depth'; limit: number }
  | { kind: 'object-keys'; limit: number }
  | { kind: 'array-items'; limit: number }
  | { kind: 'entries'; limit: number }
  | { kind: 'refused-key'; key: string };

/** The first budget the value exceeds, or undefined. Stops as soon as one is exceeded. */
export function jsonShapeViolation(value: unknown, limits: JsonShapeLimits): JsonShapeViolation | undefined {
  const stack: Array<[unknown, number]> = [[value, 1]];
  let entries = 0;
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > limits.maxDepth) return { kind: 'depth', limit: limits.maxDepth };
    let children: unknown[];
    if (Array.isArray(current)) {
      if (current.length > limits.maxArrayItems) return { kind: 'array-items', limit: limits.maxArrayItems };
      children = current;
    } else {
      const keys = Object.keys(current);
      if (keys.length > limits.maxObjectKeys) return { kind: 'object-keys', limit: limits.maxObjectKeys };
      const refused = limits.refusedKeys && keys.find((key) => limits.refusedKeys!.has(key));
      if (refused !== undefined) return { kind: 'refused-key', key: refused };
      children = keys.map((key) => (current as Record<string, unknown>)[key]);
    }
    entries += children.length;
    if (entries > limits.maxEntries) return { kind: 'entries', limit: limits.maxEntries };
    for (const child of children) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return undefined;
}

export function describeViolation(violation: JsonShapeViolation, subject: string): string {
  switch (violation.kind) {
    case 'depth':
      return `${subject} nests deeper than ${violation.limit} levels`;
    case 'object-keys':
      return `${subject} has an object with more than ${violation.limit} keys`;
    case 'array-items':
      return `${subject} has an array with more than ${violation.limit} items`;
    case 'entries':
      return `${subject} has more than ${violation.limit} keys and items in all`;
    case 'refused-key':
      return `${subject} may not use the key ${JSON.stringify(violation.key)}`;
  }
}

/**
 * How deep JSON text nests, by a scan of its brackets outside strings: what stored JSON would
 * become, learnt without parsing it. Stops counting past `stopAt`.
 */
export function jsonTextDepth(text: string, stopAt = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAt) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

const OBJECT = 0;
const ARRAY = 1;

/**
 * The same budgets (but `refusedKeys`) checked on the raw UTF-8 bytes of a JSON text, before it
 * is parsed: JSON.parse alone spends 50-200 ms building one object of 60,000 keys. A linear
 * scan counts an object's keys by its colons and an array's items by where they start, outside
 * strings; multi-byte characters never hold the ASCII bytes it looks for. Malformed text gets
 * counts of no meaning, and JSON.parse refuses it afterwards.
 */
export function jsonBytesShapeViolation(bytes: Uint8Array, limits: JsonShapeLimits): JsonShapeViolation | undefined {
  const kinds: number[] = [];
  const counts: number[] = [];
  let awaitingItem = false;
  let inString = false;
  let entries = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    const top = kinds.length - 1;
    if (awaitingItem && c !== 0x5d) {
      awaitingItem = false;
      if (++counts[top] > limits.maxArrayItems) return { kind: 'array-items', limit: limits.maxArrayItems };
      if (++entries > limits.maxEntries) return { kind: 'entries', limit: limits.maxEntries };
    }
    if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      kinds.push(c === 0x7b ? OBJECT : ARRAY);
      counts.push(0);
      if (kinds.length > limits.maxDepth) return { kind: 'depth', limit: limits.maxDepth };
      awaitingItem = c === 0x5b;
    } else if (c === 0x7d || c === 0x5d) {
      kinds.pop();
      counts.pop();
      awaitingItem = false;
    } else if (c === 0x3a && kinds[top] === OBJECT) {
      if (++counts[top] > limits.maxObjectKeys) return { kind: 'object-keys', limit: limits.maxObjectKeys };
      if (++entries > limits.maxEntries) return { kind: 'entries', limit: limits.maxEntries };
    } else if (c === 0x2c && kinds[top] === ARRAY) {
      awaitingItem = true;
    }
  }
  return undefined;
}
