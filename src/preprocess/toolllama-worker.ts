/** Worker thread of `preprocess toolllama`: converts batches of answer files (toolllama-convert.ts). */
import { serveThreadTasks } from '../util/thread-pool.js';
import { convertBatch, type ConvertBatch, type ConvertedFile } from './toolllama-convert.js';

serveThreadTasks<ConvertBatch, ConvertedFile[]>(convertBatch);
