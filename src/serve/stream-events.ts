/**
 * The `/stream` protocol's events (formats.md §14, algorithms.md §13): the callback objects
 * ToolBench's demo server streams, made from the search engine's events. Block ids count per
 * request (`llm-1`, `tool-1`, ...); `depth` is the frame node's depth integer-divided by 3.
 *
 * Only DFS reports steps (upstream's CoT has no callbacks), so a CoT request streams the
 * retrieval, the request's start and its end. Ranking calls report nothing, as upstream.
 */
import type { ChatMessage } from '../llm/backbone.js';
import type { OpenAIFunction } from '../registry/function-schema.js';
import type { SearchEvent, SearchResult } from '../search/types.js';

/** One event object; `method_name` and `block_id` always, the rest by kind. */
export type StreamEvent = { readonly method_name: string; readonly block_id: string } & Readonly<Record<string, unknown>>;

/** What `on_tool_start` says of a name that is not among the recommended functions. */
export const TOOL_NOT_FOUND = 'Tool not found in tool descriptions';

interface OpenStep {
  readonly llmBlock: string;
  /** The frame node's depth (the events show it divided by 3). */
  readonly frameDepth: number;
  readonly toolBlocks: string[];
}

export class StreamEvents {
  private llmCount = 0;
  private toolCount = 0;
  /** DFS steps whose subtree is being explored, innermost last. */
  private readonly open: OpenStep[] = [];
  /** The function list of the request: what `on_tool_start` describes a call by. */
  private recommendations: readonly OpenAIFunction[] = [];

  constructor(
    private readonly emit: (event: StreamEvent) => void,
    /** Whether the method reports its steps (DFS). */
    private readonly steps: boolean,
  ) {}

  retrievalStart(): void {
    this.emit({ method_name: 'on_tool_retrieval_start', block_id: 'recommendation-1' });
  }

  retrievalEnd(recommendations: readonly OpenAIFunction[]): void {
    this.emit({ method_name: 'on_tool_retrieval_end', block_id: 'recommendation-1', recommendations });
    this.recommendations = recommendations;
  }

  requestStart(userInput: string, method: string): void {
    this.emit({ method_name: 'on_request_start', block_id: 'start', user_input: userInput, method });
  }

  /** The final event: the answer's Finish arguments and conversation (`""` and `[]` when nothing was answered). */
  requestEnd(result: SearchResult): StreamEvent {
    return { method_name: 'on_request_end', block_id: 'end', output: result.answered?.description ?? '', chain: result.answered?.messages ?? [] };
  }

  search(event: SearchEvent): void {
    if (!this.steps) return;
    const depth = Math.floor(event.depth / 3);
    switch (event.type) {
      case 'llm_start': {
        if (event.purpose !== 'agent') return;
        const step: OpenStep = { llmBlock: `llm-${++this.llmCount}`, frameDepth: event.depth, toolBlocks: [] };
        this.open.push(step);
        this.emit({ method_name: 'on_chain_start', block_id: step.llmBlock, messages: event.messages, depth });
        this.emit({ method_name: 'on_llm_start', block_id: step.llmBlock, messages: event.messages, depth });
        return;
      }
      case 'llm': {
        const step = this.open.at(-1);
        if (event.purpose !== 'agent' || step === undefined) return;
        const response: ChatMessage = event.message ?? { role: 'assistant', content: event.error ?? '' };
        this.emit({ method_name: 'on_llm_end', block_id: step.llmBlock, response, depth });
        return;
      }
      case 'tool_start': {
        const step = this.open.at(-1);
        const block = `tool-${++this.toolCount}`;
        step?.toolBlocks.push(block);
        this.emit({ method_name: 'on_agent_action', block_id: block, action: event.name, action_input: event.arguments, depth });
        const described = this.recommendations.find((candidate) => candidate.name === event.name);
        this.emit({ method_name: 'on_tool_start', block_id: block, tool_name: event.name, tool_description: described ?? TOOL_NOT_FOUND, tool_input: event.arguments, depth });
        return;
      }
      case 'tool': {
        // the block of the tool_start just before
        const block = `tool-${this.toolCount}`;
        this.emit({ method_name: 'on_tool_end', block_id: block, output: event.observation, status: event.status, depth });
        return;
      }
      case 'step_end': {
        // a deeper step still open is the one whose call spent the budget: it never ends
        while ((this.open.at(-1)?.frameDepth ?? -1) > event.depth) this.open.pop();
        const step = this.open.pop();
        if (step === undefined) return;
        this.emit({ method_name: 'on_chain_end', block_id: step.llmBlock, depth });
        for (const block of step.toolBlocks) this.emit({ method_name: 'on_agent_end', block_id: block, depth });
        return;
      }
      case 'node':
        return;
    }
  }
}
