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

/**
 * prompts.md §3.1: the StableToolBench virtual server's simulator system prompt
 * (`server/main.py`, fake_response_function_chat). Sent when neither the cache nor a real call answers.
 */
export const VIRTUAL_API_SYSTEM_PROMPT =
  "\nImagine you are an API Server operating within a specialized tool, which contains a collection of distinct APIs. Your role is to deeply understand the function of each API based on their descriptions in the API documentation. As you receive specific inputs for individual API calls within this tool, analyze these inputs to determine their intended purpose. Your task is to craft a JSON formatted response that aligns with the expected output of the API, guided by the provided examples.\n\nYour responses must adhere to a specific JSON structure, which is as follows:\n\n{\n    \"error\": \"\",\n    \"response\": \"<Your_Response>\"\n}\n\nThe error field should remain empty, indicating no errors in processing. The response field should contain the content you formulate based on the API's functionality and the input provided. Ensure that your responses are meaningful, directly addressing the API's intended functionality. If the provided examples are mostly error messages or lack substantial content, use your judgment to create relevant and accurate responses. The key is to maintain the JSON format's integrity while ensuring that your response is an accurate reflection of the API's intended output within the tool.\n\nPlease note that your answer should not contain anything other than a json format object, which should be parsable directly to json.\nNote that:\n- your response should be around 100 to 200 words, containing rich information given the api input parameters. Keep Your answer short and simple.\n- your response must be effective and have practical content.\n- if the api response example if null or ineffective, ignore the example and give your independent response.\n\nAPI calls may fail for various reasons, such as invalid input parameters, authentication issues, or server errors. Your goal is to generate a response that accurately reflects the API's intended functionality, even if the input parameters are incorrect. Your response should be informative and relevant to the API's purpose, providing a clear and concise explanation of the expected output based on the input provided.\nHere is an example:\nAPI doc\n{\n    \"name\": \"properties/get-broadband\",\n    \"url\": \"https://zoopla.p.rapidapi.com/properties/get-broadband\",\n    \"description\": \"Get broadband information\",\n    \"method\": \"GET\",\n    \"required_parameters\": [\n        {\n            \"name\": \"listing_id\",\n            \"type\": \"NUMBER\",\n            \"description\": \"The value of listing_id field returned in .../properties/list endpoint\",\n            \"default\": \"56354192\"\n        }\n    ],\n    \"optional_parameters\": [],\n    \"code\": \"import requests\n\nurl = \"https://zoopla.p.rapidapi.com/properties/get-broadband\"\nquerystring = {\"listing_id\": \"56354192\"}\n\nheaders = {\n            \"X-RapidAPI-Key\": \"SIGN-UP-FOR-KEY\",\n            \"X-RapidAPI-Host\": \"zoopla.p.rapidapi.com\"\n        }\n\nresponse = requests.get(url, headers=headers, params=querystring)\nprint(response.json())\n\",\n    \"convert_code\": \"import requests\n\nurl = \"https://zoopla.p.rapidapi.com/properties/get-broadband\"\nquerystring = {\"listing_id\": \"56354192\"}\n\nheaders = {\n            \"X-RapidAPI-Key\": \"SIGN-UP-FOR-KEY\",\n            \"X-RapidAPI-Host\": \"zoopla.p.rapidapi.com\"\n        }\n\nresponse = requests.get(url, headers=headers, params=querystring)\nprint(response.json())\n\",\n    \"test_endpoint\": \"\",\n    \"statuscode\": 200,\n    \"schema\": {}\n}\nRequest:\n    data = {\n        \"category\": \"Business\",\n        \"tool_name\": \"zoopla_v2\",\n        \"api_name\": \"properties_get_broadband\",\n        \"tool_input\": {'listing_id': '456789', \"abdc\": 11123},\n        \"strip\": \"\",\n        \"toolbench_key\": \"xxx\"\n    }\nResponse:\n    {\"error\":\"Function executing from toolenv.tools.Business.zoopla_v2.api import properties_get_broadband error...\nproperties_get_broadband() got an unexpected keyword argument 'abdc'\",\"response\":\"\"}\n\n\nYour will also be given successful examples of API calls and their expected outputs, based on which you will generate the response for the given input.\n    ";

/** prompts.md §3.1: the user message of the same call, `str(...)` being Python's repr. */
export const VIRTUAL_API_USER_PROMPT = {
  documentation: 'API Documentation:',
  examples: 'API Examples:',
  input: 'API Input:',
} as const;

/** formats.md §13.1: the reply when the simulator gives no parsable JSON after its attempts. */
export const SIMULATION_FAILED_ERROR = 'Failed to generate fake response';

/** formats.md §13.1: the reply to `chat_with_user` (which `server/main.py` means to send). */
export const CHAT_WITH_USER_RESPONSE = 'Chat with user.';

/**
 * prompts.md §1.6 and formats.md §12–13: `error` texts of the replies and observations that the
 * tool servers and the agent environment produce. The JSON envelope around them is built with
 * pyjson, which is how upstream writes it.
 */
export const TOOL_ERROR_TEXT = {
  /** `request invalid, data error. status_code=<n>` for a non-200 reply (status 12). */
  httpStatus: (status: number): string => `request invalid, data error. status_code=${status}`,
  /** A reply body that is not JSON (status 12). */
  badBody: 'request invalid, data error',
  /** StableToolBench: the request timed out (status 5). */
  timeout: 'Timeout error...',
  /** The tool input is not JSON (status 0). */
  toolInputParse: 'Tool input parse error...\n',
  /** A local tool function threw: followed by the import statement, ` error...\n` and the exception. */
  functionExecuting: 'Function executing ',
} as const;
