CREATE TABLE mdb_messages (
    global_position bigserial PRIMARY KEY,
    position        bigint    NOT NULL,
    id              text      NOT NULL,
    stream_name     text      NOT NULL,
    type            text      NOT NULL,
    data            bytea     NOT NULL,
    time            timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE UNIQUE INDEX mdb_messages_stream ON mdb_messages (stream_name, position);
CREATE FUNCTION mdb_write_message(_id text, _stream_name text, _type text, _data bytea,
                                  _expected_version bigint DEFAULT NULL) RETURNS bigint AS $$
DECLARE
    _version bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(_stream_name));
    SELECT coalesce(max(position), -1) INTO _version FROM mdb_messages WHERE stream_name = _stream_name;
    IF _expected_version IS NOT NULL AND _expected_version <> _version THEN
        RAISE EXCEPTION 'Wrong expected version: % (Stream: %, Stream Version: %)',
            _expected_version, _stream_name, _version;
    END IF;
    INSERT INTO mdb_messages (id, stream_name, position, type, data)
        VALUES (_id, _stream_name, _version + 1, _type, _data);
    RETURN _version + 1;
END;
$$ LANGUAGE plpgsql;
