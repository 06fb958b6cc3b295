/*
 * ci.c — the "ci" member of a job (docs/protocol.md §3), filled from the environment
 * variables that the CI system itself sets.
 *
 * Detection, first match wins:
 *   gitlab   GITLAB_CI or CI_PROJECT_PATH is set
 *   jenkins  JENKINS_URL is set, or BUILD_NUMBER and JOB_NAME both are
 *   github   GITHUB_ACTIONS or GITHUB_REPOSITORY is set
 *   local    otherwise (only "system" is sent)
 *
 * Jenkins has no id for a job inside a build the way GitLab does, so
 * ci.job is the declarative-pipeline stage (STAGE_NAME) when there is one
 * and is left out otherwise; ci.pipeline is the build number.
 *
 * The environment is input like any other: an empty variable counts as
 * unset, and a value the job could not carry (over CI_FIELD_MAX bytes,
 * control characters, not UTF-8) is dropped with a warning rather than
 * truncated, so that a policy never matches half a value.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "submitter.h"

struct ci_var {
	const char *member; /* name of the ci member */
	size_t offset;      /* of its char * in struct sg_ci */
	const char *var;    /* environment variable */
	const char *alt;    /* used when var is unset; may be NULL */
};

#define CI_SLOT(m) #m, offsetof(struct sg_ci, m)

static const struct ci_var gitlab_vars[] = {
	{ CI_SLOT(project), "CI_PROJECT_PATH", NULL },
	{ CI_SLOT(pipeline), "CI_PIPELINE_ID", NULL },
	{ CI_SLOT(job), "CI_JOB_ID", NULL },
	{ CI_SLOT(commit), "CI_COMMIT_SHA", NULL },
	{ CI_SLOT(ref), "CI_COMMIT_REF_NAME", NULL },
	{ CI_SLOT(url), "CI_JOB_URL", NULL },
};

static const struct ci_var jenkins_vars[] = {
	{ CI_SLOT(project), "JOB_NAME", NULL },
	{ CI_SLOT(pipeline), "BUILD_NUMBER", NULL },
	{ CI_SLOT(job), "STAGE_NAME", NULL },
	{ CI_SLOT(commit), "GIT_COMMIT", NULL },
	{ CI_SLOT(ref), "BRANCH_NAME", "GIT_BRANCH" },
	{ CI_SLOT(url), "BUILD_URL", NULL },
};

/* ci.url for GitHub is built from three variables below. */
static const struct ci_var github_vars[] = {
	{ CI_SLOT(project), "GITHUB_REPOSITORY", NULL },
	{ CI_SLOT(pipeline), "GITHUB_RUN_ID", NULL },
	{ CI_SLOT(job), "GITHUB_JOB", NULL },
	{ CI_SLOT(commit), "GITHUB_SHA", NULL },
	{ CI_SLOT(ref), "GITHUB_REF", NULL },
};

int
sj_string_ok(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (len > max || json_check_utf8(s, len) != 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		/* C1 controls U+0080..U+009F are 0xc2 0x80..0x9f in UTF-8. */
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] <= 0x9f)
			return 0;
	}
	return 1;
}

/* The value of an environment variable, NULL when unset or empty. */
static const char *
env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

static char **
ci_slot(struct sg_ci *ci, size_t offset)
{
	return (char **)(void *)((char *)ci + offset);
}

/* Stores a copy of value (from variable var) in the member, or drops it. */
static int
ci_put(struct sg_ci *ci, const char *member, size_t offset, const char *var, const char *value)
{
	char **slot = ci_slot(ci, offset);

	if (value == NULL)
		return 0;
	if (!sj_string_ok(value, strlen(value), CI_FIELD_MAX)) {
		sj_msg("warning: ignoring %s for ci.%s: longer than %d bytes, "
		       "control characters or not UTF-8",
		    var, member, CI_FIELD_MAX);
		return 0;
	}
	free(*slot);
	if ((*slot = xstrdup(value)) == NULL)
		return SG_ERR_ALLOC;
	return 0;
}

static int
ci_fill(struct sg_ci *ci, const struct ci_var *vars, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		const char *var = vars[i].var;
		const char *value = env_nonempty(var);

		if (value == NULL && vars[i].alt != NULL) {
			var = vars[i].alt;
			value = env_nonempty(var);
		}
		if ((r = ci_put(ci, vars[i].member, vars[i].offset, var, value)) != 0)
			return r;
	}
	return 0;
}

static int
ci_github_url(struct sg_ci *ci)
{
	const char *server = env_nonempty("GITHUB_SERVER_URL");
	const char *repo = env_nonempty("GITHUB_REPOSITORY");
	const char *run = env_nonempty("GITHUB_RUN_ID");
	char *url = NULL;
	int r;

	if (server == NULL || repo == NULL || run == NULL)
		return 0;
	if (asprintf(&url, "%s/%s/actions/runs/%s", server, repo, run) < 0)
		return SG_ERR_ALLOC;
	r = ci_put(ci, "url", offsetof(struct sg_ci, url),
	    "GITHUB_SERVER_URL/GITHUB_REPOSITORY/GITHUB_RUN_ID", url);
	free(url);
	return r;
}

void
ci_clear(struct sg_ci *ci)
{
	if (ci == NULL)
		return;
	free(ci->system);
	free(ci->project);
	free(ci->pipeline);
	free(ci->job);
	free(ci->commit);
	free(ci->ref);
	free(ci->url);
	memset(ci, 0, sizeof(*ci));
}

int
ci_from_env(struct sg_ci *ret)
{
	struct sg_ci ci;
	const char *system;
	int r = SG_ERR_INTERNAL;

	memset(ret, 0, sizeof(*ret));
	memset(&ci, 0, sizeof(ci));

	if (env_nonempty("GITLAB_CI") != NULL || env_nonempty("CI_PROJECT_PATH") != NULL)
		system = "gitlab";
	else if (env_nonempty("JENKINS_URL") != NULL ||
	    (env_nonempty("BUILD_NUMBER") != NULL && env_nonempty("JOB_NAME") != NULL))
		system = "jenkins";
	else if (env_nonempty("GITHUB_ACTIONS") != NULL ||
	    env_nonempty("GITHUB_REPOSITORY") != NULL)
		system = "github";
	else
		system = "local";

	if ((ci.system = xstrdup(system)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (strcmp(system, "gitlab") == 0)
		r = ci_fill(&ci, gitlab_vars, nitems(gitlab_vars));
	else if (strcmp(system, "jenkins") == 0)
		r = ci_fill(&ci, jenkins_vars, nitems(jenkins_vars));
	else if (strcmp(system, "github") == 0) {
		r = ci_fill(&ci, github_vars, nitems(github_vars));
		if (r == 0)
			r = ci_github_url(&ci);
	} else
		r = 0;
	if (r != 0)
		goto out;

	*ret = ci;
	memset(&ci, 0, sizeof(ci));
	r = 0;
out:
	ci_clear(&ci);
	return r;
}
