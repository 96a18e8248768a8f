/**
 * The confirmation dialog's keyboard behaviour, shared by `<end-meeting-button>` and React's `EndMeetingButton`:
 * a modal `<dialog>` (the page behind is inert), focus starts on Cancel, Tab and Shift+Tab stay inside, Esc
 * cancels, and focus returns to the button that opened it.
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
