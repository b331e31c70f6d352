-- Ferry's embedded sample database (SQLite): a small shop plus one table holding every type
-- Ferry maps, with edge values. scripts/demo.sh builds it and migrates it into a new file.
PRAGMA foreign_keys = OFF;

CREATE TABLE customer (
  customer_id INTEGER PRIMARY KEY,
  email       NVARCHAR(120) NOT NULL,
  full_name   NVARCHAR(200) NOT NULL,
  country     VARCHAR(2),
  created_at  DATETIME NOT NULL,
  is_active   BOOLEAN NOT NULL,
  CONSTRAINT customer_email_uq UNIQUE (email)
);

CREATE TABLE product (
  sku         VARCHAR(20) PRIMARY KEY,
  title       TEXT NOT NULL,
  price       NUMERIC(10,2) NOT NULL,
  weight_kg   DOUBLE,
  photo       BLOB
);

CREATE TABLE orders (
  order_id    BIGINT PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customer(customer_id),
  ordered_on  DATE NOT NULL,
  ship_time   TIME,
  total       DECIMAL_TEXT(20,4) NOT NULL,
  note        TEXT
);

-- No primary key: a unique index identifies rows instead.
CREATE TABLE order_line (
  order_id    BIGINT NOT NULL,
  line_no     SMALLINT NOT NULL,
  sku         VARCHAR(20) NOT NULL,
  quantity    INT NOT NULL,
  unit_price  NUMERIC(10,2) NOT NULL
);
CREATE UNIQUE INDEX order_line_uq ON order_line (order_id, line_no);

CREATE TABLE all_types (
  id          INTEGER PRIMARY KEY,
  c_bool      BOOLEAN,
  c_int1      TINYINT,
  c_int2      SMALLINT,
  c_int4      INT,
  c_int8      BIGINT,
  c_uint1     TINYINT UNSIGNED,
  c_uint2     SMALLINT UNSIGNED,
  c_uint4     INT UNSIGNED,
  c_uint8     DECIMAL_TEXT(20,0),
  c_numeric   NUMERIC(10,3),
  c_decimal38 DECIMAL_TEXT(38,10),
  c_real4     FLOAT,
  c_real8     DOUBLE,
  c_varchar   VARCHAR(50),
  c_nvarchar  NVARCHAR(50),
  c_text      TEXT,
  c_blob      BLOB,
  c_date      DATE,
  c_time      TIME,
  c_datetime  DATETIME
);

INSERT INTO all_types VALUES
  (1, 1, 127, 32767, 2147483647, 9223372036854775807, 255, 65535, 4294967295,
   '18446744073709551615', 1234567.891, '1234567890123456789012345678.1234567890',
   3.4028234663852886e38, 1.7976931348623157e308, 'ascii', 'Grüße, 世界 😀',
   'line one' || char(10) || 'tab' || char(9) || 'end \ backslash', X'00FF10',
   '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999'),
  (2, 0, -128, -32768, -2147483648, -9223372036854775808, 0, 0, 0,
   '0', -0.001, '-0.0000000001', -1.5, 2.2250738585072014e-308, '', '', '', X'',
   '0001-01-01', '00:00:00', '0001-01-01 00:00:00'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 1, 1, 2, 3, 4, 5, 6, 7, '8', 9.5, '10.25', 0.1, 0.1, 'x', 'y', 'z', X'7A',
   '2024-02-29', '12:34:56.5', '2024-02-29 12:34:56.123456');

INSERT INTO customer (customer_id, email, full_name, country, created_at, is_active)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
SELECT i, 'customer' || i || '@example.com', 'Customer ' || i,
       substr('DEFRUSGBJPBRINCA', 1 + (i % 8) * 2, 2),
       datetime('2020-01-01', '+' || i || ' minutes'), i % 7 <> 0
FROM n;

INSERT INTO product (sku, title, price, weight_kg, photo)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
SELECT 'SKU-' || printf('%05d', i), 'Product ' || i || ' – ' || hex(i), (i % 1000) + 0.99,
       i / 7.0, CASE WHEN i % 10 = 0 THEN zeroblob(1024) END
FROM n;

INSERT INTO orders (order_id, customer_id, ordered_on, ship_time, total, note)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
SELECT i, 1 + (i % 5000), date('2021-01-01', '+' || (i % 1000) || ' days'),
       time('08:00:00', '+' || (i % 600) || ' minutes'), printf('%d.%04d', i % 9999, i % 10000),
       CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN '' ELSE 'gift wrap' END
FROM n;

INSERT INTO order_line (order_id, line_no, sku, quantity, unit_price)
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 149999)
SELECT 1 + i / 3, 1 + i % 3, 'SKU-' || printf('%05d', 1 + i % 500), 1 + i % 5, (i % 1000) + 0.99
FROM n;
