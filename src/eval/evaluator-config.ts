/**
 * ToolEval evaluator configurations (formats.md §11, prompts.md §2): a `config.yaml` naming the
 * judge model, request settings and function schemas, and a `template.txt` holding one prompt per
 * judge function (`<function><name>…</name><description>…</description></function>`) or a chat
 * (`<message><role>…</role><content>…</content></message>`).
 *
 * The three upstream evaluators ship inside the program; `--evaluators DIR` (or a folder given as
 * `--evaluator`) loads custom ones, including the older layout where the whole file is nested
 * under the evaluator's name (branch format_answer_generation_code's tooleval_gpt-4_fn).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { TOOLEVAL_EVALUATORS } from '../protocol/prompts.js';
import { fileError } from '../util/json-file.js';
import { inputError, usageError } from '../util/errors.js';

export const DEFAULT_EVALUATOR = 'tooleval_gpt-3.5-turbo_default';
export const BUILTIN_EVALUATORS = Object.keys(TOOLEVAL_EVALUATORS);

/** Upstream's evaluator classes (tooleval.md §3.1). */
export type EvaluatorClass = 'ReinforceToolLearningEvaluator' | 'OpenAIEvaluator' | 'OpenAINormalizedEvaluator';
const CLASSES: readonly EvaluatorClass[] = ['ReinforceToolLearningEvaluator', 'OpenAIEvaluator', 'OpenAINormalizedEvaluator'];

export interface JudgeFunctionSchema {
  readonly name: string;
  readonly description?: string;
  readonly parameters: { readonly type?: string; readonly properties: Record<string, unknown>; readonly required?: readonly string[] };
  readonly [key: string]: unknown;
}

export interface TemplateMessage {
  readonly role: string;
  readonly content: string;
}

export interface EvaluatorConfig {
  readonly name: string;
  /** `builtin` or the folder it was read from. */
  readonly source: string;
  readonly className: EvaluatorClass;
  readonly model: string;
  /** Per request, from `completions_kwargs.timeout` (seconds). */
  readonly timeoutSeconds: number | undefined;
  /** The other completion settings sent as they are (max_tokens, temperature, …). */
  readonly requestSettings: Readonly<Record<string, unknown>>;
  readonly functions: ReadonlyMap<string, JudgeFunctionSchema>;
  /** `completions_kwargs.function_call.name`, when the configuration forces one function. */
  readonly forcedFunction: string | undefined;
  /** `<function>` templates: function name → prompt text (filled with Python str.format). */
  readonly prompts: ReadonlyMap<string, string>;
  /** `<message>` templates, in order. */
  readonly messages: readonly TemplateMessage[];
  readonly configSha256: string;
  readonly templateSha256: string;
}

/**
 * Finds an evaluator: a folder path, a name inside `evaluatorsDir`, or a built-in name.
 * A name found in `evaluatorsDir` wins over the built-in one of the same name.
 */
export function loadEvaluator(nameOrPath: string, evaluatorsDir?: string): EvaluatorConfig {
  if (evaluatorsDir !== undefined) {
    const folder = join(evaluatorsDir, nameOrPath);
    if (existsSync(join(folder, 'config.yaml'))) return readEvaluatorFolder(folder);
  }
  if (isFolder(nameOrPath)) return readEvaluatorFolder(nameOrPath);
  const builtin = TOOLEVAL_EVALUATORS[nameOrPath];
  if (builtin !== undefined) return parseEvaluator(nameOrPath, 'builtin', builtin.config, builtin.template, 'config.yaml', 'template.txt');
  const where = evaluatorsDir === undefined ? '' : ` in ${evaluatorsDir}`;
  throw usageError(`--evaluator ${nameOrPath}: no such evaluator${where}; built in: ${BUILTIN_EVALUATORS.join(', ')}, or give a folder with config.yaml and template.txt`);
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readEvaluatorFolder(folder: string): EvaluatorConfig {
  const configFile = join(folder, 'config.yaml');
  const configText = readText(configFile);
  const templateName = templateFileName(configText, configFile);
  const templateFile = join(folder, templateName);
  return parseEvaluator(basename(folder), folder, configText, readText(templateFile), configFile, templateFile);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw fileError(file, error);
  }
}

function templateFileName(configText: string, configFile: string): string {
  const config = unwrapNested(parseConfigYaml(configText, configFile), configFile).config;
  const name = config['prompt_template'] ?? 'template.txt';
  if (typeof name !== 'string' || name === '') throw inputError(configFile, 'prompt_template', 'a file name');
  return name;
}

function parseConfigYaml(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw inputError(file, '$', 'YAML', { got: (error as Error).message.split('\n')[0], cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw inputError(file, '$', 'a YAML mapping');
  return parsed as Record<string, unknown>;
}

/** The older layout nests everything under one key, the evaluator's name. */
function unwrapNested(config: Record<string, unknown>, file: string): { config: Record<string, unknown>; nestedName?: string; path: string } {
  const keys = Object.keys(config);
  if (keys.length === 1 && !('completions_kwargs' in config)) {
    const key = keys[0] as string;
    const inner = config[key];
    if (typeof inner === 'object' && inner !== null && !Array.isArray(inner) && 'completions_kwargs' in inner) {
      return { config: inner as Record<string, unknown>, nestedName: key, path: `${key}.` };
    }
  }
  if (!('completions_kwargs' in config)) throw inputError(file, 'completions_kwargs', 'the judge settings (model, functions, …)');
  return { config, path: '' };
}

export function parseEvaluator(
  name: string,
  source: string,
  configText: string,
  templateText: string,
  configFile: string,
  templateFile: string,
): EvaluatorConfig {
  const unwrapped = unwrapNested(parseConfigYaml(configText, configFile), configFile);
  const { config, path } = unwrapped;
  const kwargs = config['completions_kwargs'];
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) throw inputError(configFile, `${path}completions_kwargs`, 'a mapping');
  const { model, timeout, functions, function_call: functionCall, ...requestSettings } = kwargs as Record<string, unknown>;
  if (typeof model !== 'string' || model === '') throw inputError(configFile, `${path}completions_kwargs.model`, 'the judge model name');
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) {
    throw inputError(configFile, `${path}completions_kwargs.timeout`, 'a positive number of seconds');
  }
  const schemas = parseFunctions(functions, configFile, `${path}completions_kwargs.functions`);
  const forced = (functionCall as { name?: unknown } | undefined)?.name;
  const template = parseTemplate(templateText);
  if (template.prompts.size === 0 && template.messages.length === 0) {
    throw inputError(templateFile, '$', '<function> blocks (name, description) or <message> blocks (role, content)');
  }
  const fnCompletions = config['fn_completions'];
  const evaluator: EvaluatorConfig = {
    name: unwrapped.nestedName ?? (typeof config['evaluator_name'] === 'string' ? (config['evaluator_name'] as string) : name),
    source,
    className: evaluatorClass(config['registered_cls_name'], fnCompletions, template.prompts, configFile, path),
    model,
    timeoutSeconds: timeout as number | undefined,
    requestSettings,
    functions: schemas,
    forcedFunction: typeof forced === 'string' ? forced : undefined,
    prompts: template.prompts,
    messages: template.messages,
    configSha256: sha256(configText),
    templateSha256: sha256(templateText),
  };
  if (evaluator.forcedFunction !== undefined && !schemas.has(evaluator.forcedFunction)) {
    throw inputError(configFile, `${path}completions_kwargs.function_call.name`, `one of the functions (${[...schemas.keys()].join(', ')})`, { got: evaluator.forcedFunction });
  }
  return evaluator;
}

function evaluatorClass(declared: unknown, fnCompletions: unknown, prompts: ReadonlyMap<string, string>, file: string, path: string): EvaluatorClass {
  if (declared !== undefined) {
    if (typeof declared === 'string' && (CLASSES as readonly string[]).includes(declared)) return declared as EvaluatorClass;
    throw inputError(file, `${path}registered_cls_name`, CLASSES.join(' or '), { got: JSON.stringify(declared) });
  }
  // The older layout names no class: infer it from the completion method and the template.
  if (fnCompletions === 'openai_completions') return 'OpenAIEvaluator';
  return prompts.has('check_answer_status') ? 'ReinforceToolLearningEvaluator' : 'OpenAINormalizedEvaluator';
}

function parseFunctions(value: unknown, file: string, path: string): ReadonlyMap<string, JudgeFunctionSchema> {
  if (!Array.isArray(value) || value.length === 0) throw inputError(file, path, 'a list of function schemas');
  const functions = new Map<string, JudgeFunctionSchema>();
  value.forEach((item: unknown, index) => {
    const at = `${path}[${index}]`;
    if (typeof item !== 'object' || item === null) throw inputError(file, at, 'a function schema');
    const schema = item as Record<string, unknown>;
    if (typeof schema['name'] !== 'string') throw inputError(file, `${at}.name`, 'a string');
    const parameters = schema['parameters'] as Record<string, unknown> | undefined;
    if (typeof parameters !== 'object' || parameters === null || typeof parameters['properties'] !== 'object') {
      throw inputError(file, `${at}.parameters.properties`, 'the properties of the judge function');
    }
    functions.set(schema['name'], schema as unknown as JudgeFunctionSchema);
  });
  return functions;
}

const FUNCTION_BLOCK = /<function>([\s\S]*?)<\/function>/g;
const MESSAGE_BLOCK = /<message>([\s\S]*?)<\/message>/g;

/** Upstream's regular-expression reading: the text between the tags, newlines included. */
export function parseTemplate(text: string): { prompts: ReadonlyMap<string, string>; messages: readonly TemplateMessage[] } {
  const prompts = new Map<string, string>();
  for (const [, block = ''] of text.matchAll(FUNCTION_BLOCK)) {
    const name = /<name>([\s\S]*?)<\/name>/.exec(block)?.[1];
    const description = /<description>([\s\S]*?)<\/description>/.exec(block)?.[1];
    if (name !== undefined && description !== undefined) prompts.set(name, description);
  }
  const messages: TemplateMessage[] = [];
  for (const [, block = ''] of text.matchAll(MESSAGE_BLOCK)) {
    const role = /<role>([\s\S]*?)<\/role>/.exec(block)?.[1];
    const content = /<content>([\s\S]*?)<\/content>/.exec(block)?.[1];
    if (role !== undefined && content !== undefined) messages.push({ role, content });
  }
  return { prompts, messages };
}

/** Names the functions an evaluator must define for a task, or throws a usage error. */
export function requireJudgeFunctions(evaluator: EvaluatorConfig, names: readonly string[], task: string): void {
  const missing = names.filter((name) => !evaluator.prompts.has(name) || !evaluator.functions.has(name));
  if (missing.length > 0) {
    throw usageError(
      `--evaluator ${evaluator.name} cannot ${task}: it lacks the judge function(s) ${missing.join(', ')} ` +
        `(a <function> block in its template and a schema in its config); use ${DEFAULT_EVALUATOR} or a compatible custom evaluator`,
    );
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
