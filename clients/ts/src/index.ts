// @tracegate/client: the typed client for tracegate's HTTP API and the
// helpers every trace UI needs.
export * from "./client.js";
export * from "./problem.js";
export * from "./trace.js";
