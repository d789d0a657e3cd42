package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// rowGroups are the rows per multi-row INSERT on SQLite, largest first; the rest of a run's
// rows go in smaller groups, the last one row at a time.
var rowGroups = []int{64, 8, 1}

// rowInserter collects rows and inserts them: on PostgreSQL all in one statement (unnest), on
// SQLite in groups of rowGroups rows with multi-row INSERTs (a few statement texts, each
// prepared once).
// Rows of a table are held until done, so that inserts of several tables keep their order
// (a membership after its user).
type rowInserter struct {
	pg      bool // PostgreSQL: unnest
	insert  string
	columns int
	args    []any
	// types is each column's kind, for the arrays of PostgreSQL's unnest: T text, I bigint,
	// B boolean, Y bytes.
	types  string
	group  string // the statement: PostgreSQL's unnest, built once
	single string // PostgreSQL's statement for one row, built once
	// sized is SQLite's multi-row statements by their rows, each built once.
	sized map[int]string
}

func (r *rowInserter) add(values ...any) { r.args = append(r.args, values...) }

// rows is the number of rows held.
func (r *rowInserter) rows() int { return len(r.args) / r.columns }

// truncate drops the rows after the first n (those of a write that rolled back).
func (r *rowInserter) truncate(n int) {
	clear(r.args[n*r.columns:])
	r.args = r.args[:n*r.columns]
}

func (r *rowInserter) values(rows int) string {
	var b strings.Builder
	b.WriteString(r.insert)
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		// Anonymous parameters (SQLite only comes here): the SQLite driver looks each named
		// one ($n) up by name among all of the statement's, which grows with the square of
		// their number.
		b.WriteString("(" + strings.TrimSuffix(strings.Repeat("?, ", r.columns), ", ") + ")")
	}
	return b.String()
}

// done inserts the rows held, in tx, and empties the inserter (also when it fails).
func (r *rowInserter) done(ctx context.Context, tx txConn) error {
	defer r.truncate(0)
	if r.pg {
		query, args, err := r.statement()
		if err != nil || query == "" {
			return err
		}
		_, err = tx.ExecContext(ctx, query, args...)
		return err
	}
	// Groups of 64 rows, then smaller groups for the rest: each statement opens a
	// statement journal (a multi-row insert into a table with foreign keys may abort halfway)
	// that copies every page the statement touches, so fewer statements copy fewer pages.
	args := r.args
	for _, rows := range rowGroups {
		width := r.columns * rows
		for len(args) >= width {
			q, ok := r.sized[rows]
			if !ok {
				if r.sized == nil {
					r.sized = map[int]string{}
				}
				q = r.values(rows)
				r.sized[rows] = q
			}
			if _, err := tx.ExecContext(ctx, q, args[:width]...); err != nil {
				return err
			}
			args = args[width:]
		}
	}
	return nil
}

// statement is PostgreSQL's one statement that inserts all of the rows held ("" when there
// are none), and its arguments; the inserter still holds the rows. Many rows are one argument
// per column, an array ("INSERT ... SELECT * FROM unnest($1, $2, ...)"): one statement text
// whatever the rows' number, a generic plan after a few runs, and a few arguments to bind
// instead of one per value (a 32-row VALUES statement cost about twice as much server time
// per row).
func (r *rowInserter) statement() (string, []any, error) {
	rows := len(r.args) / r.columns
	if rows == 0 {
		return "", nil, nil
	}
	if rows == 1 {
		// One row (a write's block of events): its values as they are, without building
		// and encoding an array per column.
		if r.single == "" {
			ps := make([]string, r.columns)
			for c := range ps {
				ps[c] = fmt.Sprintf("$%d", c+1)
			}
			r.single = r.insert + "(" + strings.Join(ps, ", ") + ")"
		}
		return r.single, r.args, nil
	}
	if r.group == "" {
		casts := make([]string, r.columns)
		for c := range casts {
			casts[c] = fmt.Sprintf("CAST($%d AS %s[])", c+1, map[byte]string{'T': "TEXT", 'I': "BIGINT", 'B': "BOOLEAN", 'Y': "BYTEA"}[r.types[c]])
		}
		r.group = strings.TrimSuffix(r.insert, "VALUES ") + "SELECT * FROM unnest(" + strings.Join(casts, ", ") + ")"
	}
	cols := make([]any, r.columns)
	for c := range cols {
		switch r.types[c] {
		case 'T':
			col := make([]*string, rows)
			for i := range col {
				switch v := r.args[i*r.columns+c].(type) {
				case string:
					col[i] = &v
				case sql.NullString:
					if v.Valid {
						col[i] = &v.String
					}
				case nil:
				default:
					return "", nil, fmt.Errorf("column %d: %T is not text", c, v)
				}
			}
			cols[c] = col
		case 'I':
			col := make([]*int64, rows)
			for i := range col {
				switch v := r.args[i*r.columns+c].(type) {
				case int64:
					col[i] = &v
				case int:
					n := int64(v)
					col[i] = &n
				case sql.NullInt64:
					if v.Valid {
						col[i] = &v.Int64
					}
				case nil:
				default:
					return "", nil, fmt.Errorf("column %d: %T is not an integer", c, v)
				}
			}
			cols[c] = col
		case 'B':
			col := make([]bool, rows)
			for i := range col {
				v, ok := r.args[i*r.columns+c].(bool)
				if !ok {
					return "", nil, fmt.Errorf("column %d: %T is not a boolean", c, r.args[i*r.columns+c])
				}
				col[i] = v
			}
			cols[c] = col
		case 'Y':
			col := make([][]byte, rows)
			for i := range col {
				v, ok := r.args[i*r.columns+c].([]byte)
				if !ok {
					return "", nil, fmt.Errorf("column %d: %T is not bytes", c, r.args[i*r.columns+c])
				}
				col[i] = v
			}
			cols[c] = col
		}
	}
	return r.group, cols, nil
}
