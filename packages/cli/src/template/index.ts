export { DEPLOYMENT_TEMPLATE, JOB_TEMPLATE, SCHEDULE_TEMPLATE } from "./templates.js";
export { TEMPLATE_FILES, TemplateExistsError, type WriteTemplatesOptions, writeTemplates } from "./write.js";
