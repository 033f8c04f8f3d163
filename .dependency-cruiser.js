// The architecture check (`npm run arch`, part of `npm test`): the rules that keep src/ one-way
// and each concern in its own wing. README's "How the code is organised" says the same in words.
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-cycles",
      comment: "Data flows one way: no module reaches, even through others, back to itself.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "imapsync-below-the-engine",
      comment:
        "imapsync/ (argv, run, classifier) is driven by the engine and never reaches up into it.",
      severity: "error",
      from: { path: "^src/imapsync/" },
      to: { path: "^src/engine/" },
    },
    {
      name: "classifier-is-pure",
      comment:
        "The classifier reads lines and a table: no file, process or network, nothing but the classes, the report's shapes and its own table.",
      severity: "error",
      from: { path: "^src/imapsync/(classify|catalogue|classification)\\.ts$" },
      to: {
        pathNot:
          "^src/(imapsync/(catalogue|classification)|outcomes/classes|report/schema)\\.ts$|^node_modules/zod/",
      },
    },
    {
      name: "outcomes-at-the-bottom",
      comment:
        "Classes, remedies and the retry table are read by the classifier and the engine alike, so they import neither (nor anything else of ours but the formatting of durations).",
      severity: "error",
      from: { path: "^src/outcomes/" },
      to: { path: "^src/", pathNot: "^src/(outcomes/|format\\.ts$)" },
    },
    {
      name: "retry-decided-in-one-place",
      comment: "Only the engine asks the retry policy whether a mailbox runs again.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(engine/engine|outcomes/[^/]+)\\.ts$" },
      to: { path: "^src/outcomes/retry-policy\\.ts$" },
    },
    {
      name: "plan-is-pure",
      comment:
        "A plan is decided before anything runs: plan/ reads no file and spawns nothing, so --plan prints what migrate runs.",
      severity: "error",
      from: { path: "^src/plan/" },
      to: {
        dependencyTypes: ["core"],
        pathNot: "^(node:)?(crypto|path)$",
      },
    },
    {
      name: "one-report-reader",
      comment:
        "The report's versions and its journal are read and written by the report store alone.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/report/(store|journal)\\.ts$" },
      to: { path: "^src/report/(versions|journal)\\.ts$" },
    },
    {
      name: "commands-do-not-import-each-other",
      comment: "One thin file per command; what several share lives in session.ts or below.",
      severity: "error",
      from: { path: "^src/commands/" },
      to: { path: "^src/commands/", pathNot: "^src/commands/session\\.ts$" },
    },
    {
      name: "programs-run-in-their-folder",
      comment:
        "imapsync runs from imapsync/run.ts, oauth2c from token/oauth2c/run.ts: nothing else spawns a process.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(imapsync/run|token/oauth2c/run)\\.ts$" },
      to: { path: "^node_modules/execa/|^(node:)?child_process$" },
    },
    {
      name: "token-wing-through-its-face",
      comment:
        "Outside src/token/, tokens are used through src/token/index.ts (obtain, keep fresh, the file imapsync reads); Entra's facts (entra.ts) may be read directly.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/token/" },
      to: { path: "^src/token/", pathNot: "^src/token/(index|entra)\\.ts$" },
    },
    {
      name: "token-base-at-the-bottom",
      comment:
        "Entra's facts and the oauth2c folder are the token wing's base: they never import the rest of the wing.",
      severity: "error",
      from: { path: "^src/token/(entra\\.ts$|oauth2c/)" },
      to: { path: "^src/token/", pathNot: "^src/token/(entra\\.ts$|oauth2c/)" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
