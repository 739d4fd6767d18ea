import { DependencyError } from '../../common/errors';
import type { ChatMessage, LlmService } from '../../llm';
import { gradingTermSet } from '../lexical-overlap';
import type { Generation, Passage, RagReasoner, RagRun, RelevanceGrade, Verdict } from '../reasoner';
import {
  directAnswerPrompt,
  generationPrompt,
  relevancePrompt,
  retrieveDecisionPrompt,
  rewritePrompt,
  supportPrompt,
  usefulnessPrompt,
} from './prompts';
import { readBooleanGrade, readRewrittenQuery } from './strict-json';

const GRADE_MAX_TOKENS = 64;
const REWRITE_MAX_TOKENS = 200;
const ANSWER_MAX_TOKENS = 1024;
const MAX_REWRITE_CHARS = 4000;
/** relevance grades of one round run this many at a time */
const GRADE_CONCURRENCY = 4;
const CITATION = /\[(\d{1,3})\]/g;
/** an unmarked answer draws on a passage holding at least this many of the words it added to the question… */
const UNMARKED_MIN_SHARED_TERMS = 3;
/** …and at least this share of them */
const UNMARKED_MIN_SHARED_SHARE = 0.15;

/**
 * Self-RAG steps as calls to the configured LLM. Graders ask for strict JSON; an answer that is
 * not the expected object, or an LLM that answered with garbage (502-class failure), is a
 * malformed grade that counts as failed. Timeouts and unreachable LLMs are not graded around:
 * they fail the request (504/503 naming the provider).
 */
export class LlmReasoner implements RagReasoner {
  readonly kind = 'llm' as const;

  constructor(private readonly llm: LlmService) {}

  async decideRetrieval(query: string, run: RagRun): Promise<Verdict> {
    const verdict = await this.grade('retrieve_decision', retrieveDecisionPrompt(query), 'retrieve', run);
    // when the decision cannot be read, retrieving is the safe side
    return verdict.malformed ? { pass: true, malformed: true } : verdict;
  }

  async gradeRelevance(
    query: string,
    passages: Passage[],
    run: RagRun,
    known?: ReadonlyMap<string, RelevanceGrade>,
  ): Promise<RelevanceGrade[]> {
    const grades = new Array<RelevanceGrade>(passages.length);
    let next = 0;
    const worker = async () => {
      while (next < passages.length) {
        const i = next++;
        const earlier = known?.get(passages[i].chunkId);
        if (earlier) {
          grades[i] = earlier;
          continue;
        }
        const verdict = await this.grade('grade_relevance', relevancePrompt(query, passages[i]), 'relevant', run);
        grades[i] = { chunkId: passages[i].chunkId, ...verdict };
      }
    };
    await Promise.all(Array.from({ length: Math.min(GRADE_CONCURRENCY, passages.length) }, worker));
    return grades;
  }

  async generate(query: string, passages: Passage[], run: RagRun): Promise<Generation> {
    const messages = passages.length > 0 ? generationPrompt(query, passages) : directAnswerPrompt(query);
    const stream = this.llm.stream({ purpose: 'generate', messages, maxTokens: ANSWER_MAX_TOKENS, temperature: 0, signal: run.signal });
    for await (const delta of stream.deltas) run.onDelta(delta);
    const result = await stream.result;
    addUsage(run, result.usage);
    const answer = result.text.trim();
    const cited = new Set([...answer.matchAll(CITATION)].map((m) => Number(m[1])));
    const used = cited.size > 0 ? passages.filter((p) => cited.has(p.n)) : passagesDrawnOn(query, answer, passages);
    return { answer, used, answered: answer.length > 0 };
  }

  gradeSupport(query: string, generation: Generation, run: RagRun): Promise<Verdict> {
    if (!generation.answered || generation.used.length === 0) return Promise.resolve({ pass: false });
    return this.grade('grade_support', supportPrompt(query, generation.answer, generation.used), 'supported', run);
  }

  gradeUsefulness(query: string, generation: Generation, run: RagRun): Promise<Verdict> {
    if (!generation.answered) return Promise.resolve({ pass: false });
    return this.grade('grade_usefulness', usefulnessPrompt(query, generation.answer), 'useful', run);
  }

  async rewrite(query: string, _passages: Passage[], run: RagRun): Promise<string> {
    const text = await this.call('rewrite_query', rewritePrompt(query), REWRITE_MAX_TOKENS, run);
    // an unreadable rewrite keeps the question as it was
    return (text !== undefined && readRewrittenQuery(text, MAX_REWRITE_CHARS)) || query;
  }

  private async grade(purpose: string, messages: ChatMessage[], field: string, run: RagRun): Promise<Verdict> {
    const text = await this.call(purpose, messages, GRADE_MAX_TOKENS, run);
    const grade = text === undefined ? undefined : readBooleanGrade(text, field);
    return grade ?? { pass: false, malformed: true };
  }

  /** the completion's text, or undefined when the LLM answered with garbage */
  private async call(purpose: string, messages: ChatMessage[], maxTokens: number, run: RagRun): Promise<string | undefined> {
    try {
      const result = await this.llm.complete({ purpose, messages, json: true, maxTokens, temperature: 0, signal: run.signal });
      addUsage(run, result.usage);
      return result.text;
    } catch (error) {
      if (error instanceof DependencyError && error.failure === 'bad_response') return undefined;
      throw error;
    }
  }
}

function addUsage(run: RagRun, usage: { inputTokens: number; outputTokens: number }): void {
  run.usage.inputTokens += usage.inputTokens;
  run.usage.outputTokens += usage.outputTokens;
}

/**
 * The passages an answer without [n] markers draws on: those holding enough of the words the
 * answer adds to the question. A reply that the documents do not answer adds few words any
 * passage holds, so it cites none.
 */
export function passagesDrawnOn(query: string, answer: string, passages: readonly Passage[]): Passage[] {
  const asked = gradingTermSet(query);
  const added = [...gradingTermSet(answer)].filter((term) => !asked.has(term));
  if (added.length === 0) return [];
  return passages.filter((passage) => {
    const terms = gradingTermSet(passage.text);
    const shared = added.filter((term) => terms.has(term)).length;
    return shared >= UNMARKED_MIN_SHARED_TERMS && shared / added.length >= UNMARKED_MIN_SHARED_SHARE;
  });
}
