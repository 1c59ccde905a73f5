-- ISDNs are base64 text: compared byte by byte, never by a language's rules. Under the server's
-- default collation (a libc locale such as C.UTF-8 or en_US.UTF-8, which PostgreSQL 15 compares
-- with strcoll and without abbreviated keys) each B-tree probe on isdn cost ~15 µs: a bulk
-- lookup of 10,000 ISDNs took 130-180 ms in its index scans alone, and every sort and merge by
-- isdn (loads, syncs) paid the same. "C" compares with memcmp and orders ISDNs exactly as the
-- services' ordinal string comparisons do. The indexes on these columns are rebuilt.
ALTER TABLE recommendations ALTER COLUMN isdn TYPE VARCHAR(255) COLLATE "C";
ALTER TABLE subscriber_360_profiles ALTER COLUMN isdn TYPE VARCHAR(255) COLLATE "C";
ALTER TABLE subscriber_monthly_arpu ALTER COLUMN isdn TYPE VARCHAR(255) COLLATE "C";
