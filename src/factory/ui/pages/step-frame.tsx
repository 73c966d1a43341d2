/** The frame every step shares: progress, heading, errors, the form and its Back/Next buttons. */
import type { Child } from "hono/jsx";
import { STEPS, stepUrl, valuesBefore, type Step, type WizardParams } from "../wizard-params.js";

/** Step titles, also used for the progress list and the page title. */
export const STEP_TITLES: Record<Step, string> = {
  target: "Hardware Type",
  version: "Talos Linux Version",
  platform: "Platform",
  arch: "Machine Architecture",
  extensions: "System Extensions",
  customization: "Customization",
  final: "Schematic Ready",
};

/** Title of a step for a target (`platform` reads "Cloud" or "Single Board Computer"). */
export function stepTitle(step: Step, target: string | undefined): string {
  if (step === "platform") return target === "sbc" ? "Single Board Computer" : "Cloud";
  return STEP_TITLES[step];
}

interface FrameProps {
  step: Step;
  params: WizardParams;
  errors: readonly string[];
  back?: string | undefined;
  /** Steps the user did not see (decided automatically); hidden from the progress list. */
  skipped: readonly Step[];
  /** False on the result page, which has no form. */
  form?: boolean;
  submitLabel?: string;
  children: Child;
}

/** One step of the wizard with its progress list and error summary. */
export function StepFrame(props: FrameProps) {
  const { step, params } = props;
  const current = STEPS.indexOf(step);
  const visible = STEPS.filter((s) => !props.skipped.includes(s));
  const body = (
    <>
      {props.errors.length > 0 && (
        <div class="errors" role="alert" id="errors" tabindex={-1}>
          <p>
            <strong>Please fix the following:</strong>
          </p>
          <ul>
            {props.errors.map((e) => (
              <li>{e}</li>
            ))}
          </ul>
        </div>
      )}
      {props.children}
    </>
  );
  return (
    <section class="step" data-step={step} aria-labelledby="step-title">
      <nav aria-label="Wizard progress">
        <ol class="progress">
          {visible.map((s) => {
            const i = STEPS.indexOf(s);
            const title = stepTitle(s, params.target);
            if (i === current) return <li aria-current="step">{title}</li>;
            if (i < current) {
              return (
                <li class="done">
                  <a href={stepUrl(params, s)}>{title}</a>
                </li>
              );
            }
            return <li class="todo">{title}</li>;
          })}
        </ol>
      </nav>
      <h1 id="step-title" tabindex={-1}>
        {stepTitle(step, params.target)}
      </h1>
      {props.form === false ? (
        <>
          {body}
          <p class="actions">{props.back !== undefined && <a class="button secondary" href={props.back}>Back</a>}</p>
        </>
      ) : (
        <form method="post" action="/ui/wizard" id="wizard-form" novalidate>
          <input type="hidden" name="step" value={step} />
          {valuesBefore(params, step).map(([k, v]) => (
            <input type="hidden" name={k} value={v} />
          ))}
          {body}
          <p class="actions">
            {props.back !== undefined && (
              <a class="button secondary" href={props.back}>
                Back
              </a>
            )}
            <button type="submit" class="button primary" name="action" value="next">
              {props.submitLabel ?? "Next"}
            </button>
          </p>
        </form>
      )}
    </section>
  );
}
