import { describe, expect, it } from 'vitest';
import { readBooleanGrade, readRewrittenQuery } from '../../../../src/rag/llm/strict-json';

describe('grader JSON', () => {
  it('reads the expected object, also inside a ```json fence', () => {
    expect(readBooleanGrade('{"relevant": true, "score": 0.8}', 'relevant')).toEqual({ pass: true, score: 0.8 });
    expect(readBooleanGrade('```json\n{"supported": false}\n```', 'supported')).toEqual({ pass: false });
  });

  it.each([
    'yes',
    '{"relevant": "yes"}',
    '{"relevant": 1}',
    '[true]',
    '{"other": true}',
    'Sure! {"relevant": true}',
    '',
    '{"relevant": true',
  ])('treats %j as malformed', (text) => {
    expect(readBooleanGrade(text, 'relevant')).toBeUndefined();
  });

  it('reads a rewritten query and refuses an empty or oversized one', () => {
    expect(readRewrittenQuery('{"query": " backup retention days "}', 100)).toBe('backup retention days');
    expect(readRewrittenQuery('{"query": ""}', 100)).toBeUndefined();
    expect(readRewrittenQuery(`{"query": "${'x'.repeat(101)}"}`, 100)).toBeUndefined();
    expect(readRewrittenQuery('{"q": "x"}', 100)).toBeUndefined();
  });
});
