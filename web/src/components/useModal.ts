import { useEffect, useRef, type RefObject } from 'react';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * What a modal dialog owes keyboard users (WAI-ARIA APG "Dialog (Modal)"): focus moves into it
 * (to `initial`, else the dialog itself, so the Enter that opened it cannot also press a button
 * in it), Tab and Shift+Tab stay inside, Esc closes it, and on closing focus returns to where it
 * was (or to `returnTo`).
 */
export function useModal(dialog: RefObject<HTMLElement | null>, onClose: () => void,
  opts: { initial?: RefObject<HTMLElement | null>; returnTo?: RefObject<HTMLElement | null> } = {}) {
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  const { initial, returnTo } = opts;
  useEffect(() => {
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const root = dialog.current;
    (initial?.current ?? root)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (!root) return;
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        onCloseRef.current();
        return;
      }
      if (e.key !== 'Tab') return;
      const items = [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(el => el.offsetParent !== null || el === document.activeElement);
      if (items.length === 0) {
        e.preventDefault();
        root.focus();
        return;
      }
      const first = items[0];
      const last = items[items.length - 1];
      const active = document.activeElement;
      if (e.shiftKey && (active === first || active === root || !root.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !root.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', onKey, true);
    return () => {
      document.removeEventListener('keydown', onKey, true);
      const target = returnTo?.current ?? previous;
      // After React has removed the dialog, so the element is focusable again.
      if (target && target.isConnected) setTimeout(() => target.focus(), 0);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
}
