/*
 * cmd/words.c: the command line's words, one row per command and per
 * subcommand (catalog's, config's, restore's modes), for what reads the
 * command line from outside: bash completion (`lifeboat complete`), the
 * manual page lifeboat(1) and the test that keeps both in step with the
 * parsers (tests/integration/manual_test.sh checks every long option of
 * cmd/ and of each --help against this table, and the table against
 * the page).
 */
#include "cmd/cmd.h"

#include <stddef.h>

/* Options are written "--name" (a flag) or "--name=KIND" (takes a value
 * of KIND: cluster, backup, file, dir, or a word for free text, which
 * completion leaves alone).  The global options are in every row's
 * completion and in no row here. */
const struct cmd_words cmd_words[] = {
	{ "backup", NULL, "--cluster=cluster --json --no-progress", NULL },
	{ "pull", NULL, "--endpoints=url --out-dir=dir --cacert=file --cert=file "
	    "--key=file --user=name --password-file=file --connect-timeout=seconds "
	    "--stall-timeout=seconds --parallel=n --json", NULL },
#define RESTORE_WHICH "--cluster=cluster --backup=backup --at=time --to-revision=n " \
	"--to-time=time --member=name --repo=url --identity=file --catalog=file " \
	"--s3-endpoint=url --s3-region=region "
#define RESTORE_HOW "--start --write-systemd-unit=dir --etcdutl=file --etcd-bin=file " \
	"--cert=file --key=file --cacert=file --peer-cert=file --peer-key=file " \
	"--peer-cacert=file --client-cert=file --client-key=file --user=name " \
	"--password-file=file --bump-revision=n --timeout=seconds --force --dry-run " \
	"--insecure-skip-signature --json"
	{ "restore", "cluster", "--members=members --base-dir=dir " RESTORE_WHICH RESTORE_HOW,
	    NULL },
	{ "restore", "member", "--name=name --initial-cluster=members "
	    "--initial-cluster-token=token --data-dir=dir --client-url=url "
	    RESTORE_WHICH RESTORE_HOW, NULL },
	{ "restore", "seed", "--name=name --peer-url=url --client-url=url --data-dir=dir "
	    RESTORE_WHICH RESTORE_HOW, NULL },
	{ "restore", "join", "--seed=url --name=name --peer-url=url --client-url=url "
	    "--data-dir=dir --replace --cluster=cluster " RESTORE_HOW, NULL },
	{ "drill", NULL, "--cluster=cluster --backup=backup --json --identity=file "
	    "--catalog=file --insecure-skip-signature", NULL },
	{ "snapd", NULL, "", NULL },
	{ "catalog", "list", "--catalog=file --cluster=cluster --since=time --until=time "
	    "--status=status --json --pitr", NULL },
	{ "catalog", "show", "--catalog=file --cluster=cluster --json", "backup" },
	{ "catalog", "audit", "--catalog=file --since=time --until=time --json", NULL },
	{ "catalog", "verify", "--catalog=file --cluster=cluster --identity=file --all "
	    "--json --insecure-skip-signature", "backup" },
	{ "catalog", "rebuild", "--catalog=file --threads=n --insecure-skip-signature", NULL },
	{ "catalog", "prune", "--catalog=file --cluster=cluster --dry-run", NULL },
	{ "catalog", "export", "--catalog=file --output=file -o=file", "backup" },
	{ "catalog", "import", "--catalog=file --insecure-skip-signature", "file" },
	{ "keygen", NULL, "--output=file -o=file --signing", NULL },
	{ "config", "check", "--probe", NULL },
	{ "config", "options", "", NULL },
	{ "config", "example", "", NULL },
	{ "config", "man", "", NULL },
	{ "inspect", NULL, "--json", "file" },
	{ "version", NULL, "", NULL },
	{ "help", NULL, "", NULL },
	{ NULL, NULL, NULL, NULL },
};
