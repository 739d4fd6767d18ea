import { Matches } from 'class-validator';

/** NUL, ESC, CR, LF, DEL and the C1 controls: they forge log lines and terminal output. */
const NO_CONTROL_CHARACTERS = /^\P{Cc}*$/u;

/** The one rule every name (tenant, API key, knowledge base, document title) follows. */
export function HasNoControlCharacters(): PropertyDecorator {
  return Matches(NO_CONTROL_CHARACTERS, { message: '$property must not contain control characters' });
}

/** A file name as sent, without its control characters, at most `maxLength` characters. */
export function cleanFileName(name: string, maxLength: number): string {
  return name.replace(/\p{Cc}+/gu, '').slice(0, maxLength);
}
