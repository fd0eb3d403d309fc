package workers

import "fmt"

// RecordUndo is the common logic of a compensation ("release", "void", ...) in a reference worker:
// it looks up the effect of kind doneKind recorded for the action that cmd undoes (the
// command's idempotency key without "/undo"). If there is one, and ref is empty or names the
// same resource, it records an effect of kind undoneKind for cmd and reports the resource
// undone. Otherwise there is nothing to undo (the action failed, never ran, or ran in a
// process whose effects this log does not see) and RecordUndo records nothing: undoing the unknown
// is a successful no-op. Calling RecordUndo again for the same command records nothing new.
func RecordUndo(log EffectLog, worker string, cmd Command, doneKind, undoneKind, ref string) (undone string, err error) {
	doKey, ok := UndoneKey(cmd.IdempotencyKey())
	if !ok {
		return "", nil
	}
	done, found, err := log.Lookup(doKey)
	if err != nil {
		return "", fmt.Errorf("looking up %s: %w", doKey, err)
	}
	if !found || done.Kind != doneKind || (ref != "" && ref != done.Ref) {
		return "", nil
	}
	if _, err := log.Record(NewEffect(worker, cmd, undoneKind, done.Ref)); err != nil {
		return "", fmt.Errorf("recording %s: %w", undoneKind, err)
	}
	return done.Ref, nil
}

// RecordEffect is the common logic of an action in a reference worker: it records an effect of kind
// for cmd, about the resource ref (an ID derived from the idempotency key). Recording twice
// for one key records once.
func RecordEffect(log EffectLog, worker string, cmd Command, kind, ref string) error {
	if _, err := log.Record(NewEffect(worker, cmd, kind, ref)); err != nil {
		return fmt.Errorf("recording %s: %w", kind, err)
	}
	return nil
}

// ReasonEffectLog is the reason of the retryable error a reference worker replies when its
// effect log fails.
const ReasonEffectLog = "effect_log_unavailable"
