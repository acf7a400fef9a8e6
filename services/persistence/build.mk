# services/persistence/build.mk — embeds the SQL migrations into the binary.
#
# scripts/embed-sql.sh turns services/persistence/migrations/NNN_name.sql into
# $(GEN)/persistence_migrations.c (the ps_migrations[] table declared in
# services/persistence/migrate.h), compiled like our own code.

PERSISTENCE_SQL := $(sort $(wildcard services/persistence/migrations/*.sql))
PERSISTENCE_MIGRATIONS_O := $(OBJ)/gen/persistence_migrations.o

$(GEN)/persistence_migrations.c: $(PERSISTENCE_SQL) scripts/embed-sql.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-sql.sh $(PERSISTENCE_SQL) > $@.tmp && mv $@.tmp $@

# An explicit rule (not the generated-protobuf one) so the code gets our full
# warnings and finds migrate.h.
$(PERSISTENCE_MIGRATIONS_O): $(GEN)/persistence_migrations.c services/persistence/migrate.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iservices/persistence -c -o $@ $<

persistence_EXTRA_O += $(PERSISTENCE_MIGRATIONS_O)

# tests/unit/test_persistence_migrations compares the embedded text with the
# files; a .deps file can only name sources, so the object is added here.
$(TBIN)/test_persistence_migrations: $(PERSISTENCE_MIGRATIONS_O)
$(TBIN)/test_persistence_migrations: LIBS += $(PERSISTENCE_MIGRATIONS_O)
