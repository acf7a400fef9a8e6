# services/api-gateway/build.mk — the gateway embeds its OpenAPI document
# (services/api-gateway/openapi.json, the contract kept in the repo) so
# GET /openapi.json needs no file at run time.  (Its libpq connection pool is
# libcommon's td_pgpool.)

GW_OPENAPI_O := $(OBJ)/gen/gateway_openapi.o
# the contract, also read by the web UI's build (its API types are generated from it)
GW_OPENAPI_JSON := services/api-gateway/openapi.json

$(GEN)/gateway_openapi.c: services/api-gateway/openapi.json
	@mkdir -p $(dir $@)
	{ echo '/* generated from services/api-gateway/openapi.json by build.mk */'; \
	  echo '#include <stddef.h>'; \
	  echo 'extern const unsigned char gw_openapi_json[];'; \
	  echo 'extern const size_t gw_openapi_json_len;'; \
	  echo 'const unsigned char gw_openapi_json[] = {'; \
	  xxd -i < $<; \
	  echo ', 0 };'; \
	  echo "const size_t gw_openapi_json_len = $$(wc -c < $<);"; } > $@.tmp && mv $@.tmp $@

$(GW_OPENAPI_O): $(GEN)/gateway_openapi.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

api-gateway_EXTRA_O += $(GW_OPENAPI_O)
