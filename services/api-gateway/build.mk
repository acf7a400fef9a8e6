# services/api-gateway/build.mk — the gateway shares persistence's libpq
# connection pool (services/persistence/pgpool.c) until it moves to libcommon.
api-gateway_EXTRA_O += $(OBJ)/services/persistence/pgpool.o
