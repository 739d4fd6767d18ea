import { IdParamPipe } from './id-param.pipe';

/** `:kb_id` in the paths of more than one controller (knowledge bases, their documents). */
export const KB_ID = new IdParamPipe('knowledge base');
