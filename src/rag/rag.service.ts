import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { MetadataFilter } from '../common/metadata-filter';
import type { KnowledgeBaseEntity } from '../database';
import { LlmService } from '../llm';
import { MAX_TOP_K, RetrievalService } from '../retrieval';
import { AppMetrics, type RagOperationType } from '../telemetry/app-metrics';
import { ATTR_GEN_AI_USAGE_INPUT_TOKENS, ATTR_GEN_AI_USAGE_OUTPUT_TOKENS } from '../telemetry/semconv';
import { withSpan } from '../telemetry/spans';
import type { TenantContext } from '../tenants';
import { LlmReasoner } from './llm/llm-reasoner';
import { noAnswerMessage } from './messages';
import { ExtractiveReasoner } from './offline/extractive-reasoner';
import type { RagMode, RagResponseDto } from './rag.dto';
import type { Generation, Passage, RagReasoner, RagRun, RelevanceGrade, Verdict } from './reasoner';

export interface RagRequest {
  query: string;
  kbIds: string[];
  mode: RagMode;
  topK: number;
  filters?: MetadataFilter;
}

/** What a streaming client sees while the answer is made. */
export type RagEvent =
  | { type: 'step'; step: string; round: number; detail: Record<string, unknown> }
  | { type: 'delta'; round: number; text: string }
  /** the answer of this round failed its grades; a new round follows and its deltas replace it */
  | { type: 'discard'; round: number; reason: string };

export interface RagOptions {
  signal: AbortSignal;
  onEvent?: (event: RagEvent) => void;
}

interface RoundOutcome {
  round: number;
  relevance: RelevanceGrade[];
  generation: Generation;
  support: Verdict | null;
  usefulness: Verdict | null;
}

/**
 * Answers questions from knowledge bases. `standard`: retrieve, generate with citations.
 * `self-rag` (Asai et al. 2023): decide whether to retrieve; retrieve; grade each passage (ISREL)
 * and keep the relevant; generate from them; grade support (ISSUP) and usefulness (ISUSE); on a
 * failed grade rewrite the query and go again, at most SELF_RAG_MAX_ROUNDS rounds. The steps are
 * run by the LLM when one is configured, else by the extractive answerer and lexical graders.
 */
@Injectable()
export class RagService {
  private readonly reasoner: RagReasoner;
  private readonly maxRounds: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly retrieval: RetrievalService,
    private readonly llm: LlmService,
    private readonly metrics: AppMetrics,
  ) {
    this.reasoner = llm.configured ? new LlmReasoner(llm) : new ExtractiveReasoner();
    this.maxRounds = config.selfRagMaxRounds;
    this.captureQuery = config.captureMessageContent;
  }

  /** the question on the span, only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT opts in */
  private readonly captureQuery: boolean;

  /** 404 for any unknown or foreign KB; called before a stream starts so the error is a plain problem. */
  requireKnowledgeBases(tenant: TenantContext, kbIds: string[]): Promise<KnowledgeBaseEntity[]> {
    return this.retrieval.requireKnowledgeBases(tenant, kbIds);
  }

  async answer(tenant: TenantContext, request: RagRequest, kbs: KnowledgeBaseEntity[], options: RagOptions): Promise<RagResponseDto> {
    const started = performance.now();
    const emit = options.onEvent ?? (() => {});
    let round = 1;
    const run: RagRun = {
      signal: options.signal,
      usage: { inputTokens: 0, outputTokens: 0 },
      onDelta: (text) => emit({ type: 'delta', round, text }),
    };
    const attributes = () => ({
      'tenant.id': tenant.tenantId,
      'kb.id': kbs.map((kb) => kb.id),
      'rag.mode': request.mode,
      'rag.answerer': this.answererName,
      'retrieval.top_k': request.topK,
      ...(this.captureQuery ? { 'rag.query.text': request.query } : {}),
    });
    try {
      const response = await withSpan(`rag ${request.mode}`, attributes, async (span) => {
        const flow = new RagFlow(this, tenant, request, kbs, run, emit, (value) => (round = value));
        const result = request.mode === 'standard' ? await flow.standard() : await flow.selfRag();
        // an answer that cites nothing abstained: the documents do not answer the question
        const abstained = result.citations.length === 0;
        if (span.isRecording()) {
          span.setAttributes({
            'self_rag.rounds': result.reflection.rounds,
            'rag.abstained': abstained,
            [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: run.usage.inputTokens,
            [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: run.usage.outputTokens,
          });
        }
        this.metrics.recordRag('answer_outcome', abstained ? 'abstained' : 'answered');
        return result;
      });
      this.metrics.recordRag(request.mode, 'success');
      return { ...response, took_ms: Math.round(performance.now() - started) };
    } catch (error) {
      this.metrics.recordRag(request.mode, 'error');
      throw error;
    }
  }

  get answererName(): string {
    return this.llm.configured ? this.llm.providerName : 'offline';
  }

  /** @internal used by RagFlow */
  get parts() {
    return { reasoner: this.reasoner, retrieval: this.retrieval, maxRounds: this.maxRounds, metrics: this.metrics };
  }
}

/** One request's walk through the steps. */
class RagFlow {
  private readonly reasoner: RagReasoner;

  constructor(
    private readonly service: RagService,
    private readonly tenant: TenantContext,
    private readonly request: RagRequest,
    private readonly kbs: KnowledgeBaseEntity[],
    private readonly run: RagRun,
    private readonly emit: (event: RagEvent) => void,
    private readonly setRound: (round: number) => void,
  ) {
    this.reasoner = service.parts.reasoner;
  }

  async standard(): Promise<Omit<RagResponseDto, 'took_ms'>> {
    const passages = await this.retrieve(this.request.query, this.request.topK, 1);
    const generation = passages.length > 0 ? await this.generate(passages, 1) : this.noAnswer(1);
    return this.response(generation, {
      retrieve: true,
      relevance: [],
      supported: null,
      useful: null,
      rounds: 1,
      queries: [this.request.query],
    });
  }

  async selfRag(): Promise<Omit<RagResponseDto, 'took_ms'>> {
    const question = this.request.query;
    const decision = await this.step('retrieve_decision', 0, { 'self_rag.grade': 'retrieve' }, () =>
      this.reasoner.decideRetrieval(question, this.run),
    );
    this.count('retrieve_decision', decision);
    this.emit({ type: 'step', step: 'retrieve_decision', round: 0, detail: { retrieve: decision.pass } });
    if (!decision.pass) {
      const generation = await this.generate([], 1);
      const usefulness = await this.gradeUsefulness(generation, 1);
      return this.response(generation, {
        retrieve: false,
        relevance: [],
        supported: null,
        useful: usefulness.pass,
        usefulness_score: usefulness.score ?? null,
        rounds: 1,
        queries: [],
      });
    }

    const { maxRounds } = this.service.parts;
    const queries: string[] = [];
    const asked = new Set<string>();
    // each passage is graded once; a later round reuses the grade
    const graded = new Map<string, RelevanceGrade>();
    let query = question;
    let best: RoundOutcome | undefined;
    for (let round = 1; round <= maxRounds; round++) {
      this.setRound(round);
      asked.add(sameQueryKey(query));
      // later rounds also look deeper
      const passages = await this.retrieve(query, Math.min(MAX_TOP_K, this.request.topK * round), round);
      const unseen = passages.filter((p) => !graded.has(p.chunkId));
      if (round > 1 && unseen.length === 0) {
        this.stopRewriting(round, 'same_passages');
        break;
      }
      queries.push(query);
      const relevance = passages.length > 0 ? await this.gradeRelevance(passages, graded, round) : [];
      const kept = passages.filter((_, i) => relevance[i]?.pass);
      const keptUnseen = unseen.filter((p) => relevance[passages.indexOf(p)]?.pass);
      for (const [i, passage] of passages.entries()) if (relevance[i]) graded.set(passage.chunkId, relevance[i]);
      // a rewrite is kept only when it finds a relevant passage no earlier round had
      if (round > 1 && keptUnseen.length === 0) {
        queries.pop();
        this.stopRewriting(round, 'nothing_new');
        break;
      }
      let outcome: RoundOutcome;
      if (kept.length === 0) {
        outcome = { round, relevance, generation: this.noAnswer(round), support: { pass: false }, usefulness: { pass: false } };
      } else {
        const generation = await this.generate(kept, round, passages);
        const support = await this.gradeSupport(generation, round);
        const usefulness = await this.gradeUsefulness(generation, round);
        outcome = { round, relevance, generation, support, usefulness };
      }
      if (!best || rank(outcome) > rank(best)) best = outcome;
      if (outcome.support?.pass && outcome.usefulness?.pass) break;
      if (round === maxRounds) break;
      const reason = kept.length === 0 ? 'no relevant passage' : !outcome.support?.pass ? 'answer not supported' : 'answer not useful';
      this.emit({ type: 'discard', round, reason });
      const rewritten = await this.step('rewrite_query', round, {}, () => this.reasoner.rewrite(question, passages, this.run));
      this.emit({ type: 'step', step: 'rewrite_query', round, detail: { query: rewritten } });
      if (asked.has(sameQueryKey(rewritten))) {
        this.stopRewriting(round, 'repeated_query');
        break;
      }
      query = rewritten;
    }
    const chosen = best!;
    return this.response(chosen.generation, {
      retrieve: true,
      relevance: chosen.relevance.map((grade) => ({
        chunk_id: grade.chunkId,
        relevant: grade.pass,
        ...(grade.score !== undefined ? { score: grade.score } : {}),
        ...(grade.malformed ? { malformed: true } : {}),
      })),
      supported: chosen.support?.pass ?? null,
      useful: chosen.usefulness?.pass ?? null,
      usefulness_score: chosen.usefulness?.score ?? null,
      rounds: queries.length,
      queries,
    });
  }

  private async retrieve(query: string, topK: number, round: number): Promise<Passage[]> {
    this.run.signal.throwIfAborted();
    const outcome = await this.service.parts.retrieval.retrieve(
      this.tenant,
      { query, kbIds: this.request.kbIds, topK, retriever: 'hybrid', filters: this.request.filters, signal: this.run.signal },
      this.kbs,
    );
    const passages = outcome.results.map((chunk, i): Passage => ({
      n: i + 1,
      chunkId: chunk.chunkId,
      documentId: chunk.documentId,
      kbId: chunk.kbId,
      text: chunk.text,
      title: chunk.documentTitle,
      score: chunk.score,
      signals: { denseScore: chunk.explain.denseScore, sparseScore: chunk.explain.sparseScore },
    }));
    this.emit({ type: 'step', step: 'retrieve', round, detail: { query, chunk_ids: passages.map((p) => p.chunkId) } });
    return passages;
  }

  private async gradeRelevance(passages: Passage[], known: ReadonlyMap<string, RelevanceGrade>, round: number): Promise<RelevanceGrade[]> {
    const grades = await this.step(
      'grade_relevance',
      round,
      { 'self_rag.grade': 'isrel', 'self_rag.passages': passages.length },
      async (span) => {
        const result = await this.reasoner.gradeRelevance(this.request.query, passages, this.run, known);
        span.setAttribute('self_rag.relevant', result.filter((g) => g.pass).length);
        return result;
      },
    );
    // a passage is counted the first time it is graded
    for (const grade of grades) if (!known.has(grade.chunkId)) this.count('relevance', grade);
    this.emit({ type: 'step', step: 'grade_relevance', round, detail: { relevant: grades.filter((g) => g.pass).map((g) => g.chunkId) } });
    return grades;
  }

  private generate(passages: Passage[], round: number, retrieved?: Passage[]): Promise<Generation> {
    return this.step('generate', round, { 'self_rag.passages': passages.length }, async (span) => {
      const generation = await this.reasoner.generate(this.request.query, passages, this.run, retrieved);
      span.setAttributes({ 'rag.answered': generation.answered, 'rag.citations': generation.used.length });
      return generation;
    });
  }

  private async gradeSupport(generation: Generation, round: number): Promise<Verdict> {
    const verdict = await this.step('grade_support', round, { 'self_rag.grade': 'issup' }, () =>
      this.reasoner.gradeSupport(this.request.query, generation, this.run),
    );
    this.count('support', verdict);
    this.emit({ type: 'step', step: 'grade_support', round, detail: { supported: verdict.pass } });
    return verdict;
  }

  private async gradeUsefulness(generation: Generation, round: number): Promise<Verdict> {
    const verdict = await this.step('grade_usefulness', round, { 'self_rag.grade': 'isuse' }, () =>
      this.reasoner.gradeUsefulness(this.request.query, generation, this.run),
    );
    this.count('usefulness', verdict);
    this.emit({ type: 'step', step: 'grade_usefulness', round, detail: { useful: verdict.pass } });
    return verdict;
  }

  /** the rewrite loop ends early: the rewrite asked nothing new or found nothing new */
  private stopRewriting(round: number, reason: 'repeated_query' | 'same_passages' | 'nothing_new'): void {
    this.emit({ type: 'step', step: 'stop_rewriting', round, detail: { reason } });
  }

  /** nothing relevant was found: say so plainly, without asking anyone */
  private noAnswer(round: number): Generation {
    const answer = noAnswerMessage(this.request.query);
    this.emit({ type: 'delta', round, text: answer });
    return { answer, used: [], answered: false };
  }

  private step<T>(
    name: string,
    round: number,
    attributes: Record<string, string | number>,
    work: (span: import('@opentelemetry/api').Span) => Promise<T>,
  ): Promise<T> {
    this.run.signal.throwIfAborted();
    return withSpan(
      `rag.${name}`,
      () => ({ 'tenant.id': this.tenant.tenantId, 'self_rag.round': round, ...attributes }),
      async (span) => {
        const result = await work(span);
        if (isVerdict(result)) span.setAttribute('self_rag.verdict', verdictStatus(result));
        return result;
      },
    );
  }

  private count(operation: RagOperationType, verdict: Verdict): void {
    this.service.parts.metrics.recordRag(operation, verdictStatus(verdict));
  }

  private response(generation: Generation, reflection: RagResponseDto['reflection']): Omit<RagResponseDto, 'took_ms'> {
    return {
      answer: generation.answer,
      citations: generation.used.map((p) => ({
        ref: p.n,
        chunk_id: p.chunkId,
        document_id: p.documentId,
        kb_id: p.kbId,
        text: p.text,
        document_title: p.title,
      })),
      reflection,
      usage: { input_tokens: this.run.usage.inputTokens, output_tokens: this.run.usage.outputTokens },
      mode: this.request.mode,
      answerer: this.service.answererName,
    };
  }
}

/** two queries that differ only in case, spacing or punctuation ask the same */
export function sameQueryKey(query: string): string {
  return query
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** which round's answer to return when none passed every grade */
function rank(outcome: RoundOutcome): number {
  return (outcome.support?.pass ? 4 : 0) + (outcome.usefulness?.pass ? 2 : 0) + (outcome.generation.answered ? 1 : 0);
}

function isVerdict(value: unknown): value is Verdict {
  return typeof value === 'object' && value !== null && typeof (value as Verdict).pass === 'boolean' && !('chunkId' in value);
}

function verdictStatus(verdict: Verdict): 'pass' | 'fail' | 'malformed' {
  return verdict.malformed ? 'malformed' : verdict.pass ? 'pass' : 'fail';
}
