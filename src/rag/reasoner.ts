import type { TokenUsage } from '../llm';

/** A retrieved chunk as the answerer sees it; `n` is its citation number, from 1. */
export interface Passage {
  n: number;
  chunkId: string;
  documentId: string;
  kbId: string;
  text: string;
  title: string | null;
  /** the retrieval score */
  score: number;
  /** each retriever's score for the passage (null: that retriever did not find it), when known */
  signals?: RetrievalSignals;
}

export interface RetrievalSignals {
  denseScore: number | null;
  sparseScore: number | null;
}

/** A grade: `malformed` when the grader's output could not be read (it then counts as failed). */
export interface Verdict {
  pass: boolean;
  score?: number;
  malformed?: boolean;
}

export interface RelevanceGrade extends Verdict {
  chunkId: string;
}

export interface Generation {
  answer: string;
  /** the passages the answer draws on (cited), a subset of those given */
  used: Passage[];
  /** false when the answerer found nothing to answer with and said so */
  answered: boolean;
}

/** One request's state every step shares: cancellation, token usage, streamed text. */
export interface RagRun {
  signal: AbortSignal;
  usage: TokenUsage;
  /** generated text as it comes (tokens or sentences) */
  onDelta(text: string): void;
}

/**
 * The Self-RAG steps (Asai et al. 2023): the retrieve decision, ISREL, generation, ISSUP, ISUSE
 * and query rewriting. Two implementations: lexical (offline) and LLM-backed.
 */
export interface RagReasoner {
  readonly kind: 'offline' | 'llm';
  decideRetrieval(query: string, run: RagRun): Promise<Verdict>;
  /** `known`: grades an earlier round gave some of these passages; they need not be asked for again */
  gradeRelevance(query: string, passages: Passage[], run: RagRun, known?: ReadonlyMap<string, RelevanceGrade>): Promise<RelevanceGrade[]>;
  /** `retrieved`: all the round retrieved, of which `passages` were kept; the offline answerer weighs the question's words by it */
  generate(query: string, passages: Passage[], run: RagRun, retrieved?: readonly Passage[]): Promise<Generation>;
  gradeSupport(query: string, generation: Generation, run: RagRun): Promise<Verdict>;
  gradeUsefulness(query: string, generation: Generation, run: RagRun): Promise<Verdict>;
  rewrite(query: string, passages: Passage[], run: RagRun): Promise<string>;
}
