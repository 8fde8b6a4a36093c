/** Help texts of flags that several commands share, so they read the same everywhere. */
export const TOOLS_DIR_HELP = 'tool environment: tools/<Category>/<tool>.json (or the toolenv/ folder holding tools/)';

export const DIGIT_PREFIX_HELP =
  "standardize API and parameter names without the get_ prefix for a leading digit, as the 2023 code behind ToolEval's reference predictions did";
