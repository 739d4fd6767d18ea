import { describe, expect, it } from 'vitest';
import { splitSentences } from '../../../src/rag/sentences';

describe('splitSentences', () => {
  it('splits English sentences on . ! ? followed by space, keeping decimals and abbreviations', () => {
    const text = 'Keys are hashed, e.g. with SHA-256. The cost is 3.5 ms! Is it fast? Yes.';
    expect(splitSentences(text).map((s) => s.text)).toEqual([
      'Keys are hashed, e.g. with SHA-256.',
      'The cost is 3.5 ms!',
      'Is it fast?',
      'Yes.',
    ]);
  });

  it('splits Chinese sentences on 。！？ without spaces and keeps offsets', () => {
    const text = 'API密钥以哈希形式存储。密钥可以撤销！过期的密钥会怎样？会被拒绝';
    const sentences = splitSentences(text);
    expect(sentences.map((s) => s.text)).toEqual(['API密钥以哈希形式存储。', '密钥可以撤销！', '过期的密钥会怎样？', '会被拒绝']);
    for (const s of sentences) expect(text.slice(s.start, s.start + s.text.length)).toBe(s.text);
  });

  it('treats line breaks as ends and drops punctuation-only pieces', () => {
    expect(splitSentences('# Title\n\nFirst line\n---\nSecond.').map((s) => s.text)).toEqual(['# Title', 'First line', 'Second.']);
  });

  it('keeps a closing quote with its sentence and does not split initials', () => {
    expect(splitSentences('He said "stop." J. Smith agreed.').map((s) => s.text)).toEqual(['He said "stop."', 'J. Smith agreed.']);
  });
});
