import { isChinese } from './lexical-overlap';

/** What the answerer says when the documents do not support an answer, in the question's language. */
export function noAnswerMessage(query: string): string {
  return isChinese(query)
    ? '检索到的文档中没有能回答这个问题的内容。'
    : 'The documents searched do not contain an answer to this question.';
}
