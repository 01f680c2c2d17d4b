//go:build !unix

package provider

// processState: on other platforms (Windows) the provider does not check processes, so a
// dead apply's lock frees only by expiring.
func processState(int) processStatus { return processUnknown }
