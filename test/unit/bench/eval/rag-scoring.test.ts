import { describe, expect, it } from 'vitest';
import { evalQuestions, holdsGoldSpan, ingestedHalf, summarize, type AnswerRecord } from '../../../../bench/eval/rag-scoring';

describe('eval:rag scoring', () => {
  it('ingests documents 0, 2, 4, … and makes a question unanswerable when all its gold documents are held out', () => {
    const corpus = ['a', 'b', 'c', 'd'].map((id) => ({ id, title: '', text: id }));
    const ingested = new Set(ingestedHalf(corpus).map((d) => d.id));
    expect([...ingested]).toEqual(['a', 'c']);
    const qrels = new Map([
      ['q1', new Map([['a', 1]])],
      ['q2', new Map([['b', 1]])],
      [
        'q3',
        new Map([
          ['b', 1],
          ['c', 1],
        ]),
      ],
    ]);
    const queries = ['q1', 'q2', 'q3', 'q4'].map((id) => ({ id, text: id }));
    const questions = evalQuestions(queries, qrels, ingested);
    expect(questions.map((q) => [q.id, [...q.goldDocuments]])).toEqual([
      ['q1', ['a']],
      ['q2', []],
      ['q3', ['c']],
    ]);
    // with answer texts, a question without any is not scored
    expect(evalQuestions(queries, qrels, ingested, new Map([['q1', ['x']]])).map((q) => q.id)).toEqual(['q1']);
  });

  it('finds a gold span across citation markers and whitespace, not a partial one', () => {
    expect(holdsGoldSpan('玩家以水枪、小枪[1]。', ['水枪、小枪'])).toBe(true);
    expect(holdsGoldSpan('It lasts 4 minutes [2].', ['4  minutes'])).toBe(true);
    expect(holdsGoldSpan('It lasts 4 [2] minutes.', ['4 minutes'])).toBe(true);
    expect(holdsGoldSpan('It lasts 4 hours.', ['4 minutes', ''])).toBe(false);
  });

  it('counts abstentions separately on answerable and unanswerable questions', () => {
    const record = (answerable: boolean, abstained: boolean, latencyMs: number): AnswerRecord => ({
      mode: 'self-rag',
      questionId: 'q',
      answerable,
      abstained,
      holdsGoldSpan: answerable && !abstained,
      goldCited: answerable && !abstained,
      rounds: 1,
      llmCalls: 0,
      latencyMs,
    });
    const summary = summarize('self-rag', [
      record(true, false, 10),
      record(true, true, 20),
      record(false, true, 30),
      record(false, true, 40),
    ]);
    expect(summary).toMatchObject({
      answerable: 2,
      unanswerable: 2,
      abstainedAnswerable: 0.5,
      abstainedUnanswerable: 1,
      holdsGoldSpan: 0.5,
      goldCited: 0.5,
      p50Ms: 20,
      p95Ms: 40,
    });
  });
});
