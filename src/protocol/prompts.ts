/**
 * Protocol text: prompts, function schemas and fixed strings that the released ToolLLaMA weights,
 * the ToolBench/StableToolBench tool servers and ToolEval's published numbers depend on, byte for
 * byte. Typos and odd spacing are part of the protocol; do not fix them.
 *
 * Verbatim from OpenBMB/ToolBench and THUNLP-MT/StableToolBench (Apache-2.0), as collected in
 * shared/spec/prompts.md; see NOTICE. Every protocol string lives in this module and only here.
 */

/** prompts.md §1.2: `rapidapi_wrapper.task_description`, followed by one line per tool. */
export const TASK_DESCRIPTION_PREFIX =
  'You should use functions to help handle the real time user querys. Remember:\n1.ALWAYS call "Finish" function at the end of the task. And the final answer should contain enough information to show to the user,If you can\'t handle the task, or you find that function calls always fail(the function is not valid now), use function Finish->give_up_and_restart.\n2.Do not use origin tool names, use only subfunctions\' names.\nYou have access of the following tools:\n';

/** prompts.md §1.5, fragment A: the start of every generated function description. */
export const FUNCTION_DESCRIPTION_TOOL = 'This is the subfunction for tool "{standard_tool_name}", you can use this tool.';

/** prompts.md §1.5, fragment B: appended (no separator) when the API description is not blank. */
export const FUNCTION_DESCRIPTION_DETAIL = 'The description of this function is: "{tuncated_description}"';

/** prompts.md §1.4: the `Finish` function, last in every function list. Key order is protocol. */
export const FINISH_FUNCTION = deepFreeze({
  name: 'Finish',
  description:
    'If you believe that you have obtained a result that can answer the task, please call this function to provide the final answer. Alternatively, if you recognize that you are unable to proceed with the task in the current state, call this function to restart. Remember: you must ALWAYS call this function at the end of your attempt, and the only part that will be shown to the user is the final answer, so it should contain sufficient information.',
  parameters: {
    type: 'object',
    properties: {
      return_type: { type: 'string', enum: ['give_answer', 'give_up_and_restart'] },
      final_answer: {
        type: 'string',
        description: 'The final answer you want to give the user. You should have this field if "return_type"=="give_answer"',
      },
    },
    required: ['return_type'],
  },
});

/**
 * The earlier wording of `Finish` (same parameters): the function lists of the 2023 ToolBench
 * release (the DFSDT training trees in data_example/answer, the 2023-07 demo answers and
 * ToolLLaMA conversations built from them, part of ToolEval's reference predictions) carry it.
 */
export const FINISH_FUNCTION_2023 = deepFreeze({
  ...FINISH_FUNCTION,
  description:
    "If you think you get the result which can answer the task, call this function to give the final answer. Or, if you think you can't handle the task from this status, call this function to restart. Remember: you should ALWAYS call this function at the end of your try, and the final answer is the ONLY part that will be showed to user, so final answer should contain enough information.",
});

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) if (typeof child === 'object' && child !== null) deepFreeze(child);
  return Object.freeze(value);
}
