import { describe, expect, it } from 'vitest';
import { passagesDrawnOn } from '../../../../src/rag/llm/llm-reasoner';
import type { Passage } from '../../../../src/rag/reasoner';

const passage = (n: number, text: string): Passage => ({
  n,
  chunkId: `c${n}`,
  documentId: `d${n}`,
  kbId: 'kb',
  text,
  title: null,
  score: 1,
});

const passages = [
  passage(1, 'API keys are stored as salted SHA-256 hashes; the plaintext key is shown once at creation and never stored.'),
  passage(2, 'Keys can be revoked at any time; a revoked key is refused with 401 within one second on every replica.'),
  passage(3, 'Photosynthesis converts light energy into chemical energy in the chloroplasts of plant cells.'),
];

describe('citations of an LLM answer without [n] markers', () => {
  it('are the passages whose words the answer uses', () => {
    const answer = 'They are kept only as salted SHA-256 hashes, and the plaintext is shown once when the key is created.';
    expect(passagesDrawnOn('How are API keys stored?', answer, passages).map((p) => p.n)).toEqual([1]);
  });

  it('cover every passage an answer combines', () => {
    const answer =
      'Keys are stored as salted SHA-256 hashes (plaintext shown once), and a revoked key is refused with 401 within a second on every replica.';
    expect(passagesDrawnOn('How are API keys stored and revoked?', answer, passages).map((p) => p.n)).toEqual([1, 2]);
  });

  it('are none when the answer says the documents do not answer', () => {
    expect(passagesDrawnOn('How are API keys rotated?', 'The documents do not say how API keys are rotated.', passages)).toEqual([]);
    expect(passagesDrawnOn('How are API keys rotated?', '', passages)).toEqual([]);
  });
});
