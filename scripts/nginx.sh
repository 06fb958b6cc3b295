# shellcheck shell=bash
# nginx.sh — an nginx with WebDAV PUT on 127.0.0.1, as the artifact store
# of the tests.  Source it, set STACK_DIR, then:
#   nginx_start [TOKEN]   serves $STACK_DIR/dav at http://127.0.0.1:$NGINX_PORT/
#                         (with TOKEN, PUT needs "Authorization: Bearer TOKEN")
#   nginx_stop / nginx_cleanup
# nginx's dav module ignores "If-None-Match: *" on PUT; the agent sends it
# with a job's objects so that none is ever replaced, and the location
# below answers it as a store should (412 when the file exists).  Use the
# same rules in front of a production nginx store.
: "${STACK_DIR:?set STACK_DIR}"
NGINX_DIR=$STACK_DIR/nginx

nginx_conf() {
	local auth=""
	if [ -n "${1:-}" ]; then
		auth="if (\$http_authorization != \"Bearer $1\") { return 401; }"
	fi
	cat > "$NGINX_DIR/nginx.conf" <<CONF
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log;
user $(id -un) $(id -gn);
events { worker_connections 64; }
http {
	access_log $NGINX_DIR/access.log;
	client_body_temp_path $NGINX_DIR/body;
	proxy_temp_path $NGINX_DIR/proxy;
	fastcgi_temp_path $NGINX_DIR/fastcgi;
	uwsgi_temp_path $NGINX_DIR/uwsgi;
	scgi_temp_path $NGINX_DIR/scgi;
	client_max_body_size 2m;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $STACK_DIR/dav;
		location / {
			$auth
			set \$exists "";
			if (-e \$request_filename) { set \$exists "yes"; }
			set \$put_cond "\$request_method:\$http_if_none_match:\$exists";
			if (\$put_cond = "PUT:*:yes") { return 412; }
			dav_methods PUT;
			create_full_put_path on;
			dav_access user:rw group:r all:r;
		}
	}
}
CONF
}

nginx_start() {
	mkdir -p "$NGINX_DIR" "$STACK_DIR/dav"
	NGINX_TOKEN=${1:-}
	for _ in $(seq 1 20); do
		NGINX_PORT=$((20000 + RANDOM % 20000))
		nginx_conf "$NGINX_TOKEN"
		if nginx -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" 2>/dev/null; then
			for _ in $(seq 1 50); do
				curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && return 0
				sleep 0.05
			done
		fi
	done
	echo "nginx did not start:" >&2
	cat "$NGINX_DIR/error.log" >&2
	return 1
}

# nginx_restart: the same port and token again (after nginx_stop).
nginx_restart() {
	nginx -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" 2>/dev/null
}

nginx_stop() {
	if [ -f "$NGINX_DIR/nginx.pid" ]; then
		kill "$(cat "$NGINX_DIR/nginx.pid")" 2>/dev/null
		for _ in $(seq 1 50); do
			[ -f "$NGINX_DIR/nginx.pid" ] || break
			sleep 0.05
		done
	fi
}
