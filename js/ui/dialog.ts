/**
 * The confirmation dialog's keyboard behaviour, shared by `<end-meeting-button>` and React's `EndMeetingButton`:
 * a modal `<dialog>` (the page behind is inert), focus starts on Cancel, Tab and Shift+Tab stay inside, Esc
 * cancels, and focus returns to the button that opened it. Once the room is left, the ended screen of the same
 * meeting takes the focus its End button can no longer hold ({@link trackEndFocus}, {@link takeEndFocus}).
 *
 * @module
 */

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Opens `dialog` modally with the focus on `initial`; returns focus to `opener` when it closes. */
export function openModal(
  dialog: HTMLDialogElement,
  initial: HTMLElement | null,
  opener: HTMLElement | null,
): void {
  if (dialog.open) return;
  dialog.showModal();
  initial?.focus();
  dialog.addEventListener('close', () => opener?.focus(), { once: true });
}

/**
 * Keeps Tab inside `dialog`: a keydown listener on the dialog. React hands over the native event after its
 * dispatch (its `currentTarget` is then React's root), so it passes the dialog itself.
 */
export function trapTab(event: KeyboardEvent, dialog = event.currentTarget as HTMLElement): void {
  if (event.key !== 'Tab') return;
  const items = [...dialog.querySelectorAll<HTMLElement>(FOCUSABLE)];
  const first = items[0];
  const last = items[items.length - 1];
  if (!first || !last) return;
  const active = (dialog.getRootNode() as Document | ShadowRoot).activeElement;
  if (event.shiftKey && (active === first || !dialog.contains(active))) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
    event.preventDefault();
    first.focus();
  }
}

// ----- the focus an End button loses when the end disables, hides or removes it -----
//
// Pressed by keyboard, the End button has the focus; the end then disables it (`ending`) and the room around it is
// hidden or removed, and Chromium moves the focus to <body>. It is owed to the same meeting's ended screen, which
// takes it on its heading as it appears (not any ended screen: a page may show several meetings).

/** Meetings (their end-state sources) whose End button lost the focus to nothing. */
const owed = new WeakSet<object>();
/**
 * Ended-screen headings that could not take the focus yet: it was still inside their meeting's End control, in its
 * modal dialog (the page behind a modal is inert). They take it when the control lets it go.
 */
const waiting = new WeakMap<object, HTMLElement>();
/** The elements that hold the document's focus for an End button, and the meeting each one is for. */
const endButtons = new WeakMap<Element, () => object | null>();

/** The meeting of the End control that `element` is (or is inside), if any. */
function endControlOf(element: Element | null): object | null {
  for (let e = element; e; e = e.parentElement) {
    const source = endButtons.get(e);
    if (source) return source();
  }
  return null;
}

/**
 * Follows the focus of `target`, the element that holds the document's focus for an End button and its dialog (the
 * shadow host of `<end-meeting-button>`, the wrapper of React's button and dialog), for the meeting `source()`
 * returns. Returns the function that stops.
 */
export function trackEndFocus(target: HTMLElement, source: () => object | null): () => void {
  const lost = (event: FocusEvent) => {
    const s = source();
    if (!s || event.relatedTarget) return;
    const heading = waiting.get(s);
    waiting.delete(s);
    // The focus is still moving (to <body>) while focusout runs: take it once it has landed.
    if (heading?.isConnected) setTimeout(() => heading.focus());
    else owed.add(s);
  };
  const found = () => {
    const s = source();
    if (s) owed.delete(s);
  };
  endButtons.set(target, source);
  target.addEventListener('focusout', lost);
  target.addEventListener('focusin', found);
  return () => {
    endButtons.delete(target);
    target.removeEventListener('focusout', lost);
    target.removeEventListener('focusin', found);
  };
}

/**
 * Called by the ended screen of `source` as it appears: moves the focus to `heading` (`tabindex="-1"`) if that
 * meeting's End control has it still (its button disabled now, or its dialog about to close) or lost it to nothing
 * and nothing else took it since.
 */
export function takeEndFocus(source: object, heading: HTMLElement): void {
  const active = document.activeElement;
  const inControl = endControlOf(active) === source;
  const nowhere = !active || active === document.body;
  if (inControl || (owed.has(source) && nowhere)) {
    heading.focus();
    // Refused while a modal dialog of the control is open: wait for the control to let the focus go.
    if (inControl && document.activeElement !== heading) waiting.set(source, heading);
  }
  owed.delete(source);
}
