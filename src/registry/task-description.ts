/**
 * The tool description texts of the agent's system prompt (spec algorithms.md §4.3, prompts.md
 * §1.2): the fixed prefix, then `<k>.<standard tool name>: <desc>\n` for each distinct tool.
 */
import { TASK_DESCRIPTION_PREFIX } from '../protocol/prompts.js';
import { pyHead, pyStrip } from '../util/py-string.js';

export interface DescribedTool {
  readonly standardName: string;
  readonly description: string | null;
}

/** Upstream cuts a tool description to its first 512 characters. */
const TOOL_DESCRIPTION_MAX_LENGTH = 512;

/**
 * `desc[:512]`, all newlines removed, stripped; `None` when that leaves nothing or the tool
 * has no description (StableToolBench's behaviour; ToolBench would crash).
 */
export function toolDescriptionText(description: string | null): string {
  if (description === null) return 'None';
  const text = pyStrip(pyHead(description, TOOL_DESCRIPTION_MAX_LENGTH).replaceAll('\n', ''));
  return text === '' ? 'None' : text;
}

/**
 * The task description: one line per distinct standard tool name in first-appearance order; a
 * later description for the same name replaces the earlier one (a Python dict's update).
 */
export function buildTaskDescription(tools: readonly DescribedTool[]): string {
  const lines = new Map<string, string>();
  for (const tool of tools) lines.set(tool.standardName, toolDescriptionText(tool.description));
  let text = TASK_DESCRIPTION_PREFIX;
  let number = 1;
  for (const [name, description] of lines) text += `${number++}.${name}: ${description}\n`;
  return text;
}
