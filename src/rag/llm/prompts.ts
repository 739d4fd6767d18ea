import type { ChatMessage } from '../../llm';
import type { Passage } from '../reasoner';

/**
 * Prompts of the Self-RAG steps. Each grader's system prompt starts with a fixed `Task:` line
 * (useful in logs of the LLM server) and asks for one JSON object of a fixed shape.
 */
const PASSAGE_CHARS = 4000;

function passageBlock(passages: readonly Passage[]): string {
  return passages.map((p) => `[${p.n}]${p.title ? ` ${p.title}\n` : ' '}${p.text.slice(0, PASSAGE_CHARS)}`).join('\n\n');
}

export function retrieveDecisionPrompt(query: string): ChatMessage[] {
  return [
    {
      role: 'system',
      content:
        'Task: retrieve-decision. Decide whether answering the question needs facts from a document collection ' +
        '(true for almost every factual question; false only for greetings or requests that need no facts). ' +
        'Answer with exactly one JSON object: {"retrieve": true} or {"retrieve": false}.',
    },
    { role: 'user', content: `Question: ${query}` },
  ];
}

export function relevancePrompt(query: string, passage: Passage): ChatMessage[] {
  return [
    {
      role: 'system',
      content:
        'Task: relevance-grade. Judge whether the passage contains information that helps answer the question. ' +
        'Answer with exactly one JSON object: {"relevant": true|false, "score": <0..1>}.',
    },
    { role: 'user', content: `Question: ${query}\n\nPassage:\n${passageBlock([passage])}` },
  ];
}

export function generationPrompt(query: string, passages: readonly Passage[]): ChatMessage[] {
  return [
    {
      role: 'system',
      content:
        'Task: answer. Answer the question using only the numbered passages. After each statement cite the passages ' +
        'it comes from as [n]. If the passages do not contain the answer, say plainly that the documents do not answer ' +
        'it. Answer in the language of the question.',
    },
    { role: 'user', content: `Passages:\n${passageBlock(passages)}\n\nQuestion: ${query}` },
  ];
}

/** Self-RAG's no-retrieval branch: the question needs no facts from the documents. */
export function directAnswerPrompt(query: string): ChatMessage[] {
  return [
    { role: 'system', content: 'Task: answer-directly. Answer briefly, in the language of the question.' },
    { role: 'user', content: query },
  ];
}

export function supportPrompt(query: string, answer: string, passages: readonly Passage[]): ChatMessage[] {
  return [
    {
      role: 'system',
      content:
        'Task: support-grade. Judge whether every claim of the answer is backed by the passages. ' +
        'Answer with exactly one JSON object: {"supported": true|false, "score": <0..1>}.',
    },
    { role: 'user', content: `Passages:\n${passageBlock(passages)}\n\nQuestion: ${query}\n\nAnswer: ${answer}` },
  ];
}

export function usefulnessPrompt(query: string, answer: string): ChatMessage[] {
  return [
    {
      role: 'system',
      content:
        'Task: usefulness-grade. Judge whether the answer is a useful response to the question, on a scale of 1 to 5. ' +
        'Answer with exactly one JSON object: {"useful": true|false, "score": <1..5>}.',
    },
    { role: 'user', content: `Question: ${query}\n\nAnswer: ${answer}` },
  ];
}

export function rewritePrompt(query: string): ChatMessage[] {
  return [
    {
      role: 'system',
      content:
        'Task: query-rewrite. The documents retrieved for the question did not answer it. Rewrite the question as a ' +
        'search query more likely to find the answer (same language, key terms, no explanations). ' +
        'Answer with exactly one JSON object: {"query": "<rewritten query>"}.',
    },
    { role: 'user', content: `Question: ${query}` },
  ];
}
