/* SPDX-License-Identifier: MIT */
/* Fuzz target: the Dockerfile parser and its stages; what they return must hold together. */
#include "common.h"
#include "dockerfile/parse.h"
#include "dockerfile/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct cairn_df_instr *in, bool nested)
{
	if ((unsigned)in->cmd >= CAIRN_DF_CMD_COUNT || !in->original || in->end_line < in->line)
		abort();
	for (size_t i = 0; i < in->n_args; i++)
		if (!in->args[i])
			abort();
	for (size_t i = 0; i < in->n_flags; i++)
		if (!in->flags[i])
			abort();
	for (size_t i = 0; i < in->n_heredocs; i++)
		if (!in->heredocs[i].name || !*in->heredocs[i].name || !in->heredocs[i].content)
			abort();
	if ((in->cmd == CAIRN_DF_ONBUILD) != (in->sub != NULL) || (nested && in->sub))
		abort();
	if (in->sub)
		check(in->sub, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cairn_dockerfile *df = NULL;
	struct cairn_error *err = NULL;

	if (cairn_dockerfile_parse(&df, (const char *)data, size, "Dockerfile", &err) == 0) {
		if (!df || df->n == 0 || err)
			abort();
		struct cairn_df_plan *plan = NULL;
		struct cairn_error *perr = NULL;
		static const char *const args[] = {"A=1", "IMG=alpine"};

		for (size_t i = 0; i < df->n; i++)
			check(&df->v[i], false);
		/* the stages of what parsed, for the last stage */
		if (cairn_df_plan(&plan, df, NULL, args, 2, "Dockerfile", &perr) == 0) {
			if (!plan || plan->target >= plan->n || !plan->v[plan->target].needed)
				abort();
		} else if (plan || !perr) {
			abort();
		}
		cairn_df_plan_free(plan);
		cairn_error_free(perr);
	} else if (df || !err || !err->msg) {
		abort();
	}
	cairn_dockerfile_free(df);
	cairn_error_free(err);
	return 0;
}
