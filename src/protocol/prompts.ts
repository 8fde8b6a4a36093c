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

/** prompts.md §1.1: the agent's system message; `{task_description}` is replaced with the task description (§1.2). */
export const AGENT_SYSTEM_PROMPT =
  "You are AutoGPT, you can use many tools(functions) to do the following task.\nFirst I will give you the task description, and your task start.\nAt each step, you need to give your thought to analyze the status now and what to do next, with a function call to actually excute your step.\nAfter the call, you will get the call result, and you are now in a new state.\nThen you will analyze your status now, then decide what to do next...\nAfter many (Thought-call) pairs, you finally perform the task, then you can give your finial answer.\nRemember: \n1.the state change is irreversible, you can't go back to one of the former state, if you want to restart the task, say \"I give up and restart\".\n2.All the thought is short, at most in 5 sentence.\n3.You can do more then one trys, so if your plan is to continusly try some conditions, you can do one of the conditions per try.\nLet's Begin!\nTask description: {task_description}";

/** prompts.md §1.3: the agent's first user message; `{input_description}` is replaced with the query. */
export const AGENT_USER_PROMPT = "\n{input_description}\nBegin!\n";

/** prompts.md §1.7: the DFSDT diversity prompt; `{previous_candidate}` is replaced. */
export const DIVERSITY_PROMPT =
  "This is not the first time you try this task, all previous trails failed.\nBefore you generate my thought for this state, I will first show you your previous actions for this state, and then you must generate actions that is different from all of them. Here are some previous actions candidates:\n{previous_candidate}\nRemember you are now in the intermediate state of a trail, you will first analyze the now state and previous action candidates, then make actions that is different from all the previous.";

/** prompts.md §1.7: appended to `{previous_candidate}` before the node's own observation. */
export const DIVERSITY_FORMER_OBSERVATION = "again, your former observation: ";

/** prompts.md §1.8a: the pairwise ranking system message (DFS_wFilter); `{{...}}` markers reach the model literally. */
export const RANK_SYSTEM_PROMPT =
  "\nYou are value-GPT, which is an expert of defining which trail is better, which trail is more close to solving the task. \nAll candidate tries to solve this task with some funciton calls:\n*******************************\n{{TASK_DESCRIPTION}}\n{task_description}\n{{END_TASK_DESCRIPTION}}\n*******************************\nFirst, all candidate do the following things:\n{intersect_trice}\nAfter that, there are two candidates A and B, they do different things:\n*******************************\n{{CANDIDATE_A_START}}\n{candidate_A}\n{{CANDIDATE_A_END}}\n*******************************\n{{CANDIDATE_B_START}}\n{candidate_B}\n{{CANDIDATE_B_END}}\nWhich try do you think is more helpful to solving the task?\n";

/** prompts.md §1.8b: the pairwise ranking user message. */
export const RANK_USER_PROMPT = "\nTell me which candidate is better in ONE Word: \"A\" or \"B\":";

/** prompts.md §1.9: `process_system_message`: replace SEARCH by REPLACEMENT once, then append SUFFIX + str(functions). */
export const TOOLLLAMA_SYSTEM_REWRITE = {
  search: "with a function call to actually excute your step.",
  replacement: "with a function call to actually excute your step. Your output should follow this format:\nThought:\nAction\nAction Input:\n",
  suffix: "\nSpecifically, you have access to the following APIs: ",
} as const;

/** prompts.md §1.13: StableToolBench's vLLM ToolLLaMA client gives up with this prefix when the context overflows. */
export const TOOLLLAMA_OVERFLOW_PREFIX = "The response is too long, please try again.\nOrignal response: ";

/**
 * prompts.md §1.6: the observations of a `Finish` call and of an unknown function. Several are
 * deliberately not valid JSON; they are protocol and appear in prompts and training data.
 */
export const FINISH_OBSERVATION = {
  missingReturnType: '{error:"must have "return_type""}',
  giveUp: '{"response":"chose to give up and restart"}',
  missingFinalAnswer: '{error:"must have "final_answer""}',
  finalAnswer: '{"response":"successfully giving the final answer."}',
  badReturnType: '{error:""return_type" is not a valid choice"}',
} as const;

/** prompts.md §1.6: the `error` text for a function name that matches nothing (inside a pyjson reply). */
export const noSuchFunctionError = (name: string): string => `No such function name: ${name}`;

/** algorithms.md §5.3: the name a hallucinated call is renamed to before it is stored. */
export const HALLUCINATED_FUNCTION_NAME = 'invalid_hallucination_function_name';

/**
 * prompts.md §2: the three ToolEval evaluators, `config.yaml` and `template.txt` byte for byte
 * (identical in ToolBench and StableToolBench). They ship inside the program so that `eval
 * pass-rate|preference --evaluator NAME` needs no checkout; evaluator-config.ts parses them.
 */
export const TOOLEVAL_EVALUATORS: Readonly<Record<string, { readonly config: string; readonly template: string }>> = Object.freeze({
  'tooleval_gpt-3.5-turbo_default': {
    config: "evaluator_name: \"tooleval_gpt-3.5-turbo_default\"\nregistered_cls_name: \"ReinforceToolLearningEvaluator\"\nprompt_template: \"template.txt\"\nfn_completions: \"normalized_openai_completions\"\napis_json: \"your/path/to/api_pool.json\"\ncompletions_kwargs:\n  model: \"gpt-3.5-turbo-16k\"\n  max_tokens: 1000\n  temperature: 0.2\n  timeout: 10\n  functions:\n    - name: \"check_answer_status\"\n      description: \"Parse the json answer with layerd nodes and return the answer_status about the answer\"\n      parameters:\n        type: \"object\"\n        properties:\n          answer_status:\n            type: \"string\"\n            enum: [\"Unsure\",\"Unsolved\",\"Solved\"]\n        required: [\"answer_status\"]\n    - name: \"parse_answer_status\"\n      description: \"Parse the json answer with layerd nodes and return the answer_status about the answer\"\n      parameters:\n        type: \"object\"\n        properties:\n          answer_status:\n            type: \"string\"\n            enum: [\"Unsure\",\"Unsolved\",\"Solved\"]\n        required: [\"answer_status\"]\n    - name: \"check_task_solvable\"\n      description: \"Parse the task description and return the task_status about the task\"\n      parameters:\n        type: \"object\"\n        properties:\n          task_status:\n            type: \"string\"\n            enum: [\"Unsure\",\"Unsolvable\",\"Solvable\"]\n        required: [\"task_status\"]\n    - name: \"select_better_answer\"\n      description: \"Select the better answer with a comprehensive investigation on given aspects. You should ignore the impact of the order of candidate answers.\"\n      parameters:\n        type: \"object\"\n        properties:\n          index:\n            type: \"number\"\n            description: \"The `index` value in the selected better answer.\"\n        required: [\"index\"]\nfn_completion_parser: \"index_parser\"\nbatch_size: 1\n",
    template: "<function>\n<name>check_answer_status</name>\n<description>\nGiving the query and answer, you need give `answer_status` of the answer by following rules:\n1. If the answer is a sorry message or not a positive/straight response for the given query, return \"Unsolved\".\n2. If the answer is a positive/straight response for the given query, you have to further check.\n2.1 If the answer is not sufficient to determine whether the solve the query or not, return \"Unsure\".\n2.2 If you are confident that the answer is sufficient to determine whether the solve the query or not, return \"Solved\" or \"Unsolved\".\n\nQuery:\n{query}\nAnswer:\n{answer}\n\nNow give your reason in \"content\" and `answer_status` of JSON to `check_answer_status`.\n</description>\n</function>\n\n<function>\n<name>parse_answer_status</name>\n<description>\nGiving the query and the correspond execution detail of an answer, you need give `answer_status` of the answer by following rules:\n1. If all 'tool' nodes' message indicate that there are errors happened, return \"Unsolved\"\n2. If you find the information in the \"final_answer\" is not true/valid according to the messages in 'tool' nodes, return \"Unsolved\"\n3. If you are unable to verify the authenticity and validity of the information, return \"Unsure\"\n4. If there are 'tool' node in the chain contains successful func calling and those calling indeed solve the query, return \"Solved\"\n\nQuery:\n{query}\nAnswer:\n{answer}\n\nNow you are requested to give reason in \"content\" and `answer_status` of JSON to `parse_answer_status`.\n</description>\n</function>\n\n<function>\n<name>check_task_solvable</name>\n<description>\nPlease check whether the given task solvable with following rules:\n1. If the `query` provide invalid information (e.g. invalid email address or phone number), return \"Unsolvable\"\n2. If the `query` needs more information to solve (e.g. the target restaurant name in a navigation task), return \"Unsolvable\"\n3. If you are unable to draw a conclusion, return \"Unsure\"\n4. If the currently `available_tools` are enough to solve the query, return \"Solvable\"\n\nTask:\n{task}\n\nNow give your reason in \"content\" and `task_status` of JSON to `check_task_solvable`.\n</description>\n</function>\n\n\n\n<function>\n<name>select_better_answer</name>\n<description>\nQuery:\n{query}\n\nAnswer_0:\n{answer_0}\n\nAnswer_1:\n{answer_1}\n\nGiven above query and answers in JSON format, you must follow the rules to select the relatively better answer and give the index of the answer **(0 for Answer_0, 1 for Answer_1)**:\n1. Compare the value of \"final_answer\" in following aspects:\n- Informative: whether it contains all necessary information to reply to the query.\n- Factuality: whether it accurately describes what has been done, and what failed in the end.\n- Reasoning: If answer does not solve the query, whether gives a detailed and accurate reason for failure.\n2. If you cannot determine yet, compare the value of \"answer_details\" in following aspects:\n- Tool calling costs: calculating the percentage of failed and replicated tools calling.\n- Running costs: calculating the total tokens T used in execution.\n- Milestone: calculating the milestone(fixed subtasks) reached in execution.\n- Exploration: whether tries potential useful tools in execution. Just count times of successful tool calling with different tools/arguments in execution.\n\nIf you have made your decision, calling `select_better_answer`, else if you cannot determine, select a random answer.\n</description>\n</function>",
  },
  'tooleval_gpt-3.5-turbo_fn': {
    config: "evaluator_name: \"tooleval_gpt-3.5-turbo_fn\"\nregistered_cls_name: \"OpenAIEvaluator\"\nprompt_template: \"template.txt\"\nfn_completions: \"openai_completions\"\napis_json: \"your/path/to/api_pool.json\"\ncompletions_kwargs:\n  model: \"gpt-3.5-turbo-16k\"\n  max_tokens: 100\n  temperature: 0\n  timeout: 10\n  function_call:\n    name: \"choose_preference\"\n  functions:\n    - name: \"choose_preference\"\n      description: \"Choose the preferred answer for the query within all given answers.\"\n      parameters:\n        type: \"object\"\n        properties:\n          preference:\n            type: \"number\"\n            description: \"The index of the preferred answer in all given answers.\"\n        required: [ \"preference\" ]\nfn_completion_parser: \"index_parser\"\nbatch_size: 1\n",
    template: "<message>\n<role>system</role>\n<content>You are a helpful annotator, that help user to annotate data.</content>\n</message>\n<message>\n<role>user</role>\n<content>Giving task description and candidate answers, I want you to choose one preferred answer based on the rules. To do so, I will give you the task description that given to the models, and the candidate answers in a list for chosen. To choose the one preferred answer, you need to first analyse answers based on rules, then give the index number of the preferred answer of JSON to `choose_preference`. \n\nHere are the preference rules:\n1. if both answers give the none empty `final_answer`, check whether the given `final_answer` solves the given query.\n1.1 if both answers solve the query, choose one with smaller `total_steps`.\n1.1.1 if `total_steps` are same, choose one answer with better `final_answer` quality.\n1.2 if one answer solve while the other not, chose the answer that solve query.\n1.3 if both answers failed, check the `answer_details` to choose one with considering following preference:\n1.3.1 check `response` and prefer more successful tool calling.\n1.3.2 check `name` and prefer using more various tool usage.\n1.3.3 prefer smaller `total_steps`.\n2. if one give none empty `final_answer` while other not, choose the one give `final_answer`.\n3. if both failed to give none empty `final_answer`, following 1.3 to choose one with better `answer_details`.\n\nHere is the task description in JSON format:\n{task_description}\n\nHere are the candidate answers in JSON format:\n{answers}\n\nNow choose the preferred answer by analysing results and the rules given, return the index in range [0,1].</content>\n</message>",
  },
  'tooleval_gpt-3.5-turbo_normalized': {
    config: "evaluator_name: \"tooleval_gpt-3.5-turbo_normalized\"\nregistered_cls_name: \"OpenAINormalizedEvaluator\"\nprompt_template: \"template.txt\"\nfn_completions: \"normalized_openai_completions\"\napis_json: \"your/path/to/api_pool.json\"\ncompletions_kwargs:\n  model: \"gpt-3.5-turbo-16k\"\n  max_tokens: 100\n  temperature: 0\n  timeout: 10\n  functions:\n    - name: \"parse_answer_details\"\n      description: \"Parse the json answer with layerd nodes and return the informations about the answer\"\n      parameters:\n        type: \"object\"\n        properties:\n          succeed_tool_calling:\n            type: \"number\"\n            description: \"Give the number of times that the 'tool' nodes' message is called successfully without any errors in the response\"\n          used_tool_types:\n            type: \"number\"\n            description: \"Give the number of different 'name' in 'tool' nodes' message\"\n        required: [ \"succeed_tool_calling\", \"used_tool_types\"]\n    - name: \"select_best_final_answer\"\n      description: \"For given query, select the best answer in answers list and return the index of the best answer\"\n      parameters:\n        type: \"object\"\n        properties:\n          best_answer_index:\n            type: \"number\"\n            description: \"The index of the best answer in the answer list, start from 0\"\n        required: [ \"best_answer_index\"]\n    - name: \"check_solve_query\"\n      description: \"Check whether the given answer solve the given query, return true or false\"\n      parameters:\n        type: \"object\"\n        properties:\n          is_solved:\n            type: \"boolean\"\n            description: \"true if solved and false if not\"\n        required: [\"is_solved\"]\nfn_completion_parser: \"index_parser\"\nbatch_size: 1\n",
    template: "<function>\n<name>parse_answer_details</name>\n<description>\nGiving answer details in the following JSON format:\n{answer_details}\n\nI want you to parse the answer details and give the information of JSON to `parse_answer_details`. Now parse the answer.\n</description>\n</function>\n<function>\n<name>select_best_final_answer</name>\n<description>\nFor query {query}, you have the following answers in JSON format:\n{final_answers}\n\nI want you to select the best answer from the above answers and give the index of the answer of JSON to `select_best_final_answer`. Now select the best answer.\n</description>\n</function>\n<function>\n<name>check_solve_query</name>\n<description>\nPlease check whether the answer solve the query or not.\nQuery:\n{query}\n\nAnswer:\n{final_answer}\n\nNow give your judgment of JSON to `check_solve_query`, remember do not be too strict.\n</description>\n</function>",
  },
});

/** prompts.md §2.4: the property added to a judge function when its reason is asked for (`required` gains `reason`). */
export const JUDGE_REASON_PROPERTY = deepFreeze({ type: 'string', description: 'explain your answer.' });
