/**
 * `react_parser` (spec algorithms.md §6.6): ToolLLaMA's `Thought: …\nAction: …\nAction Input: …`
 * text cut into its three parts by pure substring slicing, exactly as upstream
 * (`toolbench/inference/utils.py`):
 *
 *   thought      = text[text.find("Thought: ") + 9      : text.find("\nAction: ")]
 *   action       = text[text.find("Action: ") + 8       : text.find("\nAction Input: ")]
 *   action_input = text[text.find("Action Input: ") + 14 :]
 *
 * quirk 16: a missing start marker makes `find` return −1, so the slice starts at code point
 * 8/7/13; a missing end marker gives an end of −1, which drops the last code point. `find`
 * returns the first occurrence anywhere (an `Action: ` inside the thought counts). Nothing is
 * trimmed. Python indexes code points, so the slicing is done on code points: an astral
 * character is never split.
 */

export interface ReactParts {
  readonly thought: string;
  readonly action: string;
  readonly actionInput: string;
}

const THOUGHT = 'Thought: ';
const THOUGHT_END = '\nAction: ';
const ACTION = 'Action: ';
const ACTION_END = '\nAction Input: ';
const ACTION_INPUT = 'Action Input: ';

export function reactParse(text: string): ReactParts {
  const points = new CodePoints(text);
  return {
    thought: points.slice(points.find(THOUGHT) + THOUGHT.length, points.find(THOUGHT_END)),
    action: points.slice(points.find(ACTION) + ACTION.length, points.find(ACTION_END)),
    actionInput: points.slice(points.find(ACTION_INPUT) + ACTION_INPUT.length),
  };
}

/** A string indexed as Python indexes it (code points), with Python's `find` and slicing. */
class CodePoints {
  /** UTF-16 offset of each code point, then the string's length: `offsets.length = count + 1`. */
  private readonly offsets: readonly number[];

  constructor(private readonly text: string) {
    const offsets: number[] = [];
    for (let index = 0; index < text.length; index++) {
      offsets.push(index);
      const unit = text.charCodeAt(index);
      const next = text.charCodeAt(index + 1);
      if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) index++;
    }
    offsets.push(text.length);
    this.offsets = offsets;
  }

  private get count(): number {
    return this.offsets.length - 1;
  }

  /** Python `str.find(needle)`: the code-point index of the first occurrence, or −1. */
  find(needle: string): number {
    const unitIndex = this.text.indexOf(needle);
    if (unitIndex < 0) return -1;
    // The needles are ASCII, so a match always starts on a code-point boundary.
    return this.offsets.indexOf(unitIndex);
  }

  /** Python `text[start:end]` for integer bounds (negative ones count from the end). */
  slice(start: number, end: number = this.count): string {
    const from = this.clamp(start);
    const to = this.clamp(end);
    if (from >= to) return '';
    return this.text.slice(this.offsets[from], this.offsets[to]);
  }

  private clamp(index: number): number {
    const absolute = index < 0 ? index + this.count : index;
    return Math.min(Math.max(absolute, 0), this.count);
  }
}
