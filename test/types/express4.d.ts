// express4 is Express 4 installed under an alias (npm:express@4) to test both majors; its API
// is the same as far as mounting middleware goes, so it borrows Express 5's types.
declare module 'express4' {
  import express from 'express';
  export default express;
}
