package roster

import (
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"
)

// Metadata limits from the Scalekit API (../shared/api, section 2). Lengths count characters.
const (
	MetadataKeyMin   = 3
	MetadataKeyMax   = 25
	MetadataValueMin = 1
	MetadataValueMax = 256

	OrganizationMetadataMaxPairs = 10
	UserMetadataMaxPairs         = 20
)

// checkMetadata records a violation for every key or value out of bounds and for too many pairs.
// With allowDelete an empty value is accepted (it removes the key in a merge). It reports keys
// in sorted order so that error messages are stable.
func checkMetadata(v *Violations, field string, m map[string]string, maxPairs int, allowDelete bool) {
	checkMetadataEntries(v, field, m, allowDelete)
	if len(m) > maxPairs {
		v.Add(field, fmt.Sprintf("map.max_pairs=%d", maxPairs), "at most %d pairs are allowed, got %d", maxPairs, len(m))
	}
}

// checkMergedPairs records a map that a merge left with more than maxPairs pairs; what names
// the record ("the user").
func checkMergedPairs(v *Violations, field, what string, m map[string]string, maxPairs int) {
	if len(m) > maxPairs {
		v.Add(field, fmt.Sprintf("map.max_pairs=%d", maxPairs),
			"%s would have %d pairs after this update; at most %d are allowed", what, len(m), maxPairs)
	}
}

// CheckMergedPairs is checkMergedPairs as an error, for merges done outside this package.
func CheckMergedPairs(field, what string, m map[string]string, maxPairs int) error {
	var v Violations
	checkMergedPairs(&v, field, what, m, maxPairs)
	return v.Err()
}

// checkMetadataEntries checks keys and values; with allowDelete an empty value is accepted
// (it removes the key in a merge, see docs/metadata.md).
func checkMetadataEntries(v *Violations, field string, m map[string]string, allowDelete bool) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		if n := utf8.RuneCountInString(k); n < MetadataKeyMin || n > MetadataKeyMax {
			v.Add(field, fmt.Sprintf("map.keys.string.len=%d..%d", MetadataKeyMin, MetadataKeyMax),
				"key %q must be %d to %d characters long", k, MetadataKeyMin, MetadataKeyMax)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(val) {
			v.Add(field, "string.utf8", "key %q: keys and values must be valid UTF-8", k)
			continue
		}
		n := utf8.RuneCountInString(val)
		if n == 0 && allowDelete {
			continue
		}
		if n < MetadataValueMin || n > MetadataValueMax {
			v.Add(field, fmt.Sprintf("map.values.string.len=%d..%d", MetadataValueMin, MetadataValueMax),
				"value of key %q must be %d to %d characters long", k, MetadataValueMin, MetadataValueMax)
		}
	}
}

// MergeMetadata applies a metadata patch: keys in patch are set, a key whose patch value is
// empty is removed, other keys are kept. It returns a new map.
func MergeMetadata(current, patch map[string]string) map[string]string {
	out := make(map[string]string, len(current)+len(patch))
	for k, v := range current {
		out[k] = v
	}
	for k, v := range patch {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}
